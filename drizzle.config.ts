import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate --name <change>` writes the next flat migrations/NNNN_<change>.sql.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
