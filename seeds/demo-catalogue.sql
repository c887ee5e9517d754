-- Demo catalogue (prices in integer fen) for local development, the demo, the tests and the bench:
-- `npx wrangler d1 execute DB --local --file seeds/demo-catalogue.sql`. Not a migration, so a
-- deployed database starts with no products. Idempotent: a product id that exists is left as it is.
INSERT INTO `products` (`id`, `name`, `description`, `price`, `currency`, `active`, `sort`, `created_at`) VALUES
  ('prod_coffee', 'Pour-over coffee', 'Single-origin Yunnan beans, brewed to order', 1800, 'CNY', 1, 10, 1764374400000),
  ('prod_tea', 'Longjing green tea', 'West Lake Longjing, first flush', 2500, 'CNY', 1, 20, 1764374400000),
  ('prod_mooncake', 'Lotus-seed mooncake', 'One mooncake, lotus-seed paste with salted yolk', 1288, 'CNY', 1, 30, 1764374400000),
  ('prod_tote', 'Canvas tote bag', 'Heavy cotton canvas, printed logo', 4900, 'CNY', 1, 40, 1764374400000),
  ('prod_cent', 'One-fen test item', 'Costs 0.01 CNY: for trying payments end to end', 1, 'CNY', 1, 50, 1764374400000),
  ('prod_retired', 'Retired item', 'No longer sold (inactive): orders for it are refused', 999, 'CNY', 0, 90, 1764374400000)
ON CONFLICT (`id`) DO NOTHING;
