-- Intentionally no change. This migration used to insert the demo catalogue; the catalogue now lives
-- in seeds/demo-catalogue.sql (applied by `npm run dev`, the demo and the tests), so a deployed
-- database starts with no products (SPEC §8). Databases that applied the old version keep their six
-- demo products: delete them by hand (README "Going live", step 1). The file stays so that migration
-- numbers, and drizzle-kit's journal, stay contiguous.
SELECT 1;
