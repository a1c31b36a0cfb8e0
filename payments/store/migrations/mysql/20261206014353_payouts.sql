-- +goose Up
-- modify "ledger_accounts" table
ALTER TABLE `ledger_accounts` MODIFY COLUMN `kind` enum('PENDING','AVAILABLE','RESERVE','DISPUTE_HOLD','RECEIVABLE','FEES','FX','SUSPENSE','IN_TRANSIT') NOT NULL;
-- modify "settlement_batches" table
ALTER TABLE `settlement_batches` ADD COLUMN `reserve_held` json NULL, ADD COLUMN `reserve_release_on` varchar(10) NOT NULL DEFAULT '', ADD COLUMN `reserve_released` json NULL;
-- modify "settlement_schedules" table
ALTER TABLE `settlement_schedules` ADD COLUMN `reserve_bps` bigint NOT NULL DEFAULT 0, ADD COLUMN `reserve_days` bigint NOT NULL DEFAULT 0;
-- create "bank_accounts" table
CREATE TABLE `bank_accounts` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `country` varchar(2) NOT NULL, `currency` varchar(3) NOT NULL, `holder_name` varchar(140) NOT NULL, `number` varchar(34) NOT NULL, `routing` varchar(32) NOT NULL DEFAULT '', `last4` varchar(4) NOT NULL, `fingerprint` varchar(64) NOT NULL, `status` enum('PENDING_VERIFICATION','VERIFIED','VERIFICATION_FAILED') NOT NULL DEFAULT 'PENDING_VERIFICATION', `connector` varchar(64) NOT NULL, `deposits` json NULL, `verify_attempts` bigint NOT NULL DEFAULT 0, `failure_reason` varchar(200) NOT NULL DEFAULT '', PRIMARY KEY (`id`), UNIQUE INDEX `bankaccount_merchant_id_fingerprint` (`merchant_id`, `fingerprint`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "payouts" table
CREATE TABLE `payouts` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `bank_account_id` varchar(40) NOT NULL, `amount` bigint NOT NULL, `currency` varchar(3) NOT NULL, `source_amount` bigint NOT NULL, `source_currency` varchar(3) NOT NULL, `fx_quote_id` varchar(40) NOT NULL DEFAULT '', `status` enum('PENDING','IN_TRANSIT','PAID','FAILED','CANCELED') NOT NULL DEFAULT 'PENDING', `idempotency_key` varchar(128) NULL, `description` varchar(200) NOT NULL DEFAULT '', `connector` varchar(64) NOT NULL, `connector_reference` varchar(128) NOT NULL DEFAULT '', `failure_code` varchar(64) NOT NULL DEFAULT '', `send_at` datetime(6) NOT NULL, `submitted_at` datetime(6) NULL, `next_check_at` datetime(6) NULL, PRIMARY KEY (`id`), INDEX `payout_connector_connector_reference` (`connector`, `connector_reference`), INDEX `payout_merchant_id_id` (`merchant_id`, `id`), UNIQUE INDEX `payout_merchant_id_idempotency_key` (`merchant_id`, `idempotency_key`), INDEX `payout_next_check_at` (`next_check_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "payout_schedules" table
CREATE TABLE `payout_schedules` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `bank_account_id` varchar(40) NOT NULL, `currency` varchar(3) NOT NULL, `interval` enum('DAILY','WEEKLY') NOT NULL, `weekday` bigint NOT NULL DEFAULT 1, `minimum` bigint NOT NULL DEFAULT 0, `enabled` bool NOT NULL DEFAULT 1, `next_run_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `payoutschedule_merchant_id` (`merchant_id`), INDEX `payoutschedule_next_run_at` (`next_run_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "payout_schedules" table
DROP TABLE `payout_schedules`;
-- reverse: create "payouts" table
DROP TABLE `payouts`;
-- reverse: create "bank_accounts" table
DROP TABLE `bank_accounts`;
-- reverse: modify "settlement_schedules" table
ALTER TABLE `settlement_schedules` DROP COLUMN `reserve_days`, DROP COLUMN `reserve_bps`;
-- reverse: modify "settlement_batches" table
ALTER TABLE `settlement_batches` DROP COLUMN `reserve_released`, DROP COLUMN `reserve_release_on`, DROP COLUMN `reserve_held`;
-- reverse: modify "ledger_accounts" table
ALTER TABLE `ledger_accounts` MODIFY COLUMN `kind` enum('PENDING','AVAILABLE','RESERVE','DISPUTE_HOLD','RECEIVABLE','FEES','FX','SUSPENSE') NOT NULL;
