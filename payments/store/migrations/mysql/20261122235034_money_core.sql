-- +goose Up
-- create "fx_quotes" table
CREATE TABLE `fx_quotes` (`id` varchar(40) NOT NULL, `merchant_id` varchar(40) NOT NULL, `base_currency` varchar(3) NOT NULL, `quote_currency` varchar(3) NOT NULL, `base_rate` varchar(40) NOT NULL, `margin_bps` bigint NOT NULL, `rate` varchar(40) NOT NULL, `rate_source` varchar(64) NOT NULL, `rate_fetched_at` datetime(6) NOT NULL, `expires_at` datetime(6) NOT NULL, `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `fxquote_merchant_id` (`merchant_id`), INDEX `fxquote_merchant_id_id` (`merchant_id`, `id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "fx_rates" table
CREATE TABLE `fx_rates` (`id` varchar(40) NOT NULL, `base` varchar(3) NOT NULL, `quote` varchar(3) NOT NULL, `rate` varchar(40) NOT NULL, `source` varchar(64) NOT NULL, `fetched_at` datetime(6) NOT NULL, `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `fxrate_base_quote_fetched_at` (`base`, `quote`, `fetched_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "journal_entries" table
CREATE TABLE `journal_entries` (`id` varchar(40) NOT NULL, `source_type` varchar(32) NOT NULL, `source_id` varchar(191) NOT NULL, `description` varchar(255) NOT NULL DEFAULT '', `effective_at` datetime(6) NOT NULL, `posting_hash` varchar(64) NOT NULL, `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `journalentry_effective_at` (`effective_at`), UNIQUE INDEX `journalentry_source_type_source_id` (`source_type`, `source_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "ledger_accounts" table
CREATE TABLE `ledger_accounts` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NULL, `owner_type` enum('MERCHANT','PLATFORM','CHANNEL','PARTNER') NOT NULL, `owner_id` varchar(64) NOT NULL, `kind` enum('PENDING','AVAILABLE','RESERVE','RECEIVABLE','FEES','FX','SUSPENSE') NOT NULL, `currency` varchar(3) NOT NULL, `allow_negative` bool NOT NULL DEFAULT 0, `balance` bigint NOT NULL DEFAULT 0, `version` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), INDEX `ledgeraccount_merchant_id` (`merchant_id`), INDEX `ledgeraccount_merchant_id_currency` (`merchant_id`, `currency`), UNIQUE INDEX `ledgeraccount_owner_type_owner_id_kind_currency` (`owner_type`, `owner_id`, `kind`, `currency`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "postings" table
CREATE TABLE `postings` (`id` varchar(40) NOT NULL, `merchant_id` varchar(40) NULL, `amount` bigint NOT NULL, `currency` varchar(3) NOT NULL, `seq` bigint NOT NULL, `balance_after` bigint NOT NULL, `effective_at` datetime(6) NOT NULL, `created_at` datetime(6) NOT NULL, `entry_id` varchar(40) NOT NULL, `account_id` varchar(40) NOT NULL, PRIMARY KEY (`id`), INDEX `postings_journal_entries_postings` (`entry_id`), INDEX `posting_account_id_effective_at` (`account_id`, `effective_at`), UNIQUE INDEX `posting_account_id_seq` (`account_id`, `seq`), INDEX `posting_merchant_id` (`merchant_id`), CONSTRAINT `postings_journal_entries_postings` FOREIGN KEY (`entry_id`) REFERENCES `journal_entries` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION, CONSTRAINT `postings_ledger_accounts_postings` FOREIGN KEY (`account_id`) REFERENCES `ledger_accounts` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "postings" table
DROP TABLE `postings`;
-- reverse: create "ledger_accounts" table
DROP TABLE `ledger_accounts`;
-- reverse: create "journal_entries" table
DROP TABLE `journal_entries`;
-- reverse: create "fx_rates" table
DROP TABLE `fx_rates`;
-- reverse: create "fx_quotes" table
DROP TABLE `fx_quotes`;
