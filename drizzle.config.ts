// drizzle-kit configuration: `bun run db:generate` writes SQL migrations for src/storage/schema.ts into drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/sqlite/schema.ts",
  out: "./drizzle",
});
