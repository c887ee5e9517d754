-- SPEC §8: once any attempt of a refund had an unknown outcome (timeout, 5xx, 429, unverifiable
-- answer), a later 4xx never closes it: WeChat's query decides. When that first happened.
ALTER TABLE `refunds` ADD `outcome_unknown_at` integer;
