-- +goose Up
-- create "fee_plans" table
CREATE TABLE `fee_plans` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `payment_method_type` varchar(32) NOT NULL DEFAULT '', `scheme` varchar(32) NOT NULL DEFAULT '', `region` varchar(16) NOT NULL DEFAULT '', `percent_bps` bigint NOT NULL DEFAULT 0, `fixed_amount` bigint NOT NULL DEFAULT 0, `fixed_currency` varchar(3) NOT NULL DEFAULT '', `cross_border_bps` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), UNIQUE INDEX `feeplan_merchant_id_payment_method_type_scheme_region` (`merchant_id`, `payment_method_type`, `scheme`, `region`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "settlement_batches" table
CREATE TABLE `settlement_batches` (`id` varchar(40) NOT NULL, `merchant_id` varchar(40) NOT NULL, `business_date` varchar(10) NOT NULL, `currency` varchar(3) NOT NULL, `line_count` bigint NOT NULL, `conversions` json NULL, `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `settlementbatch_merchant_id_business_date` (`merchant_id`, `business_date`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "settlement_lines" table
CREATE TABLE `settlement_lines` (`id` varchar(40) NOT NULL, `merchant_id` varchar(40) NOT NULL, `batch_id` varchar(40) NOT NULL, `source_key` varchar(100) NOT NULL, `payment_id` varchar(40) NOT NULL, `currency` varchar(3) NOT NULL, `gross` bigint NOT NULL, `channel_fee` bigint NOT NULL, `mdr_fee` bigint NOT NULL, `split_amount` bigint NOT NULL, `net` bigint NOT NULL, `captured_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `settlementline_merchant_id_batch_id_id` (`merchant_id`, `batch_id`, `id`), UNIQUE INDEX `source_key` (`source_key`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "settlement_schedules" table
CREATE TABLE `settlement_schedules` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `delay_days` bigint NOT NULL DEFAULT 2, `timezone` varchar(64) NOT NULL DEFAULT 'UTC', `next_run_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `settlementschedule_merchant_id` (`merchant_id`), INDEX `settlementschedule_next_run_at` (`next_run_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "split_rules" table
CREATE TABLE `split_rules` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `name` varchar(64) NOT NULL, `basis` enum('FEE','GROSS') NOT NULL, `shares` json NOT NULL, `residue_partner` varchar(64) NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `splitrule_merchant_id_name` (`merchant_id`, `name`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "split_rules" table
DROP TABLE `split_rules`;
-- reverse: create "settlement_schedules" table
DROP TABLE `settlement_schedules`;
-- reverse: create "settlement_lines" table
DROP TABLE `settlement_lines`;
-- reverse: create "settlement_batches" table
DROP TABLE `settlement_batches`;
-- reverse: create "fee_plans" table
DROP TABLE `fee_plans`;
