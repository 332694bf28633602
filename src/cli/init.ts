/** `invoke init`: the first-start bootstrap without serving. */
import { DEFAULT_CONFIG } from "../config.ts";
import { createTenant, isInitialised } from "../governance/bootstrap.ts";
import { installDemo } from "../demo.ts";
import { PolicyService } from "../policy/service.ts";
import { BrainService } from "../brain/service.ts";
import { sqliteRepositories } from "../storage/sqlite/index.ts";
import { openStore } from "../storage/sqlite/db.ts";
import { CommandFailure, type Command } from "./command.ts";
import { dbFlag, demoFlag, jsonFlag } from "./shared.ts";

export const initCommand: Command = {
  name: "init",
  summary: "Create and migrate the database, then its first tenant, admin user and admin API key (printed once).",
  flags: {
    db: dbFlag,
    tenant: { type: "string", env: "INVOKE_TENANT", value: "NAME", default: "default", help: "Name of the first tenant." },
    "admin-email": { type: "string", env: "INVOKE_ADMIN_EMAIL", value: "EMAIL", default: "admin@localhost", help: "Email of the admin user." },
    demo: demoFlag,
    json: jsonFlag,
  },
  details: 'With --json, prints {"tenant_id","user_id","admin_key"}. Refuses (exit 1) if the database is already initialised.',
  async run(values) {
    const path = (values.db as string | undefined) ?? DEFAULT_CONFIG.db;
    const store = openStore(path);
    const repositories = sqliteRepositories(store);
    try {
      if (await isInitialised(repositories.directory)) throw new CommandFailure(`database ${path} is already initialised; nothing was changed`);
      const result = await createTenant(repositories.directory, values.tenant as string, values["admin-email"] as string);
      if (values.demo) await installDemo(
          { brain: new BrainService(repositories.brain), policy: new PolicyService(repositories.policy), connectorStore: repositories.connectors, storePath: store.path },
          { tenantId: result.tenant_id },
        );
      if (values.json) console.log(JSON.stringify(result));
      else {
        console.log(`Initialised ${path}: tenant "${values.tenant}" (${result.tenant_id}), admin ${values["admin-email"]} (${result.user_id}).`);
        console.log(`Admin API key (shown once; store it now): ${result.admin_key}`);
      }
      return 0;
    } finally {
      store.close();
    }
  },
};
