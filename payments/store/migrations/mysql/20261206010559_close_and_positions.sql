-- +goose Up
-- modify "journal_entries" table
ALTER TABLE `journal_entries` ADD COLUMN `original_effective_at` datetime(6) NULL;
-- create "channel_positions" table
CREATE TABLE `channel_positions` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `connector` varchar(64) NOT NULL, `currency` varchar(3) NOT NULL, `threshold` bigint NULL, `reported` bigint NOT NULL DEFAULT 0, `ledger` bigint NOT NULL DEFAULT 0, `drift` bigint NOT NULL DEFAULT 0, `error` varchar(255) NOT NULL DEFAULT '', `alerting` bool NOT NULL DEFAULT 0, `checked_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `channelposition_connector_currency` (`connector`, `currency`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "day_closes" table
CREATE TABLE `day_closes` (`id` varchar(40) NOT NULL, `day` varchar(10) NOT NULL, `timezone` varchar(64) NOT NULL, `starts_at` datetime(6) NOT NULL, `ends_at` datetime(6) NOT NULL, `entries` bigint NOT NULL, `accounts` bigint NOT NULL, `closed_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `dayclose_day` (`day`), INDEX `dayclose_ends_at` (`ends_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "day_close_balances" table
CREATE TABLE `day_close_balances` (`id` varchar(40) NOT NULL, `close_id` varchar(40) NOT NULL, `currency` varchar(3) NOT NULL, `accounts` bigint NOT NULL, `debits` bigint NOT NULL, `credits` bigint NOT NULL, `day_debits` bigint NOT NULL, `day_credits` bigint NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `dayclosebalance_close_id_currency` (`close_id`, `currency`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "day_close_statements" table
CREATE TABLE `day_close_statements` (`id` varchar(40) NOT NULL, `merchant_id` varchar(40) NULL, `close_id` varchar(40) NOT NULL, `account_id` varchar(40) NOT NULL, `owner_type` varchar(16) NOT NULL, `owner_id` varchar(64) NOT NULL, `kind` varchar(16) NOT NULL, `currency` varchar(3) NOT NULL, `opening` bigint NOT NULL, `debits` bigint NOT NULL, `credits` bigint NOT NULL, `closing` bigint NOT NULL, `postings` bigint NOT NULL, PRIMARY KEY (`id`), UNIQUE INDEX `dayclosestatement_close_id_account_id` (`close_id`, `account_id`), INDEX `dayclosestatement_merchant_id_close_id` (`merchant_id`, `close_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "ledger_cutoffs" table
CREATE TABLE `ledger_cutoffs` (`id` varchar(32) NOT NULL, `closed_through` datetime(6) NOT NULL, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "ledger_cutoffs" table
DROP TABLE `ledger_cutoffs`;
-- reverse: create "day_close_statements" table
DROP TABLE `day_close_statements`;
-- reverse: create "day_close_balances" table
DROP TABLE `day_close_balances`;
-- reverse: create "day_closes" table
DROP TABLE `day_closes`;
-- reverse: create "channel_positions" table
DROP TABLE `channel_positions`;
-- reverse: modify "journal_entries" table
ALTER TABLE `journal_entries` DROP COLUMN `original_effective_at`;
