/**
 * The demo company's SQLite database, behind the demo `database` connector: its customers and invoices,
 * taken from the same data as the brain's demo (`src/brain/demo-company.json`, shipped in the binary),
 * so `database.query` and the brain answer alike.
 */
import { Database } from "bun:sqlite";
import demo from "../brain/demo-company.json";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    industry TEXT,
    country TEXT,
    tier TEXT,
    account_manager TEXT,
    note TEXT
  )`,
  `CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    amount NUMERIC NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    due_date TEXT NOT NULL
  )`,
  "CREATE INDEX IF NOT EXISTS invoices_customer ON invoices (customer_id)",
];

type Attributes = Record<string, string | number | undefined>;

/**
 * Writes the demo company's `customers` and `invoices` tables into the SQLite file at `path`, creating it.
 * A file that already has both tables is left as it is (an agent may have changed its rows on purpose).
 */
export function createDemoDatabase(path: string): void {
  const db = new Database(path, { create: true, strict: true });
  try {
    const existing = db.query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('customers', 'invoices')").all();
    if (existing.length === 2) return;
    db.run("PRAGMA foreign_keys = ON");
    db.transaction(() => {
      for (const statement of SCHEMA) db.run(statement);
      const addCustomer = db.prepare(
        "INSERT OR IGNORE INTO customers (key, name, industry, country, tier, account_manager, note) VALUES ($key, $name, $industry, $country, $tier, $account_manager, $note)",
      );
      for (const customer of demo.entities.filter((entity) => entity.type === "customer")) {
        const attributes: Attributes = customer.attributes;
        addCustomer.run({
          key: customer.key,
          name: customer.name,
          industry: attributes.industry ?? null,
          country: attributes.country ?? null,
          tier: attributes.tier ?? null,
          account_manager: attributes.account_manager ?? null,
          note: attributes.note ?? null,
        });
      }
      const addInvoice = db.prepare(
        `INSERT OR IGNORE INTO invoices (key, customer_id, amount, currency, status, due_date)
         VALUES ($key, (SELECT id FROM customers WHERE key = $customer), $amount, $currency, $status, $due)`,
      );
      for (const invoice of demo.entities.filter((entity) => entity.type === "invoice")) {
        const billedBy = demo.relations.find((relation) => relation.relation === "billed_by" && relation.to.key === invoice.key);
        if (billedBy === undefined) throw new Error(`demo invoice ${invoice.key} has no billed_by customer`);
        const attributes: Attributes = invoice.attributes;
        addInvoice.run({
          key: invoice.key,
          customer: billedBy.from.key,
          amount: attributes.amount ?? null,
          currency: attributes.currency ?? null,
          status: attributes.status ?? null,
          due: attributes.due ?? null,
        });
      }
    })();
  } finally {
    db.close();
  }
}
