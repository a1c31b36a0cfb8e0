-- +goose Up
-- create "discrepancies" table
CREATE TABLE `discrepancies` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `run_id` varchar(40) NOT NULL, `connector` varchar(64) NOT NULL, `business_date` varchar(10) NOT NULL, `key` varchar(191) NOT NULL, `kind` varchar(24) NOT NULL, `line_no` bigint NULL, `line_key` varchar(191) NOT NULL DEFAULT '', `our_type` varchar(32) NOT NULL DEFAULT '', `our_id` varchar(64) NOT NULL DEFAULT '', `expected_currency` varchar(3) NOT NULL DEFAULT '', `expected_gross` bigint NOT NULL DEFAULT 0, `expected_fee` bigint NOT NULL DEFAULT 0, `reported_currency` varchar(3) NOT NULL DEFAULT '', `reported_gross` bigint NOT NULL DEFAULT 0, `reported_fee` bigint NOT NULL DEFAULT 0, `reported_net` bigint NOT NULL DEFAULT 0, `detail` varchar(500) NOT NULL DEFAULT '', `status` enum('OPEN','RESOLVED') NOT NULL DEFAULT 'OPEN', `resolution` varchar(500) NOT NULL DEFAULT '', `resolved_by` varchar(200) NOT NULL DEFAULT '', `resolved_at` datetime(6) NULL, `adjustment_entry_id` varchar(40) NOT NULL DEFAULT '', PRIMARY KEY (`id`), INDEX `discrepancy_connector_business_date` (`connector`, `business_date`), UNIQUE INDEX `discrepancy_run_id_key` (`run_id`, `key`), INDEX `discrepancy_status_id` (`status`, `id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "reconciliation_lines" table
CREATE TABLE `reconciliation_lines` (`id` bigint NOT NULL AUTO_INCREMENT, `run_id` varchar(40) NOT NULL, `line_no` bigint NOT NULL, `line_key` varchar(191) NOT NULL, `class` varchar(24) NOT NULL, `our_type` varchar(32) NOT NULL DEFAULT '', `our_id` varchar(64) NOT NULL DEFAULT '', `currency` varchar(3) NOT NULL DEFAULT '', `gross` bigint NOT NULL DEFAULT 0, `fee` bigint NOT NULL DEFAULT 0, `net` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), INDEX `reconciliationline_run_id_line_key` (`run_id`, `line_key`), UNIQUE INDEX `reconciliationline_run_id_line_no` (`run_id`, `line_no`), INDEX `reconciliationline_run_id_our_type_our_id` (`run_id`, `our_type`, `our_id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "reconciliation_runs" table
CREATE TABLE `reconciliation_runs` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `connector` varchar(64) NOT NULL, `business_date` varchar(10) NOT NULL, `status` enum('RUNNING','SUCCEEDED','FAILED') NOT NULL DEFAULT 'RUNNING', `lines_read` bigint NOT NULL DEFAULT 0, `counts` json NULL, `error` varchar(500) NOT NULL DEFAULT '', `lease_until` datetime(6) NULL, `finished_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `reconciliationrun_connector_business_date` (`connector`, `business_date`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "report_cursors" table
CREATE TABLE `report_cursors` (`id` varchar(64) NOT NULL, `seq` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "report_marks" table
CREATE TABLE `report_marks` (`id` varchar(64) NOT NULL, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "report_rollups" table
CREATE TABLE `report_rollups` (`id` varchar(191) NOT NULL, `merchant_id` varchar(40) NOT NULL, `total` bool NOT NULL DEFAULT 0, `hour` datetime(6) NOT NULL, `currency` varchar(3) NOT NULL, `connector` varchar(64) NOT NULL DEFAULT '', `method` varchar(32) NOT NULL DEFAULT '', `payments` bigint NOT NULL DEFAULT 0, `succeeded` bigint NOT NULL DEFAULT 0, `failed` bigint NOT NULL DEFAULT 0, `authorized` bigint NOT NULL DEFAULT 0, `declined` bigint NOT NULL DEFAULT 0, `refunds` bigint NOT NULL DEFAULT 0, `disputes` bigint NOT NULL DEFAULT 0, `gross` bigint NOT NULL DEFAULT 0, `fees` bigint NOT NULL DEFAULT 0, `refunded` bigint NOT NULL DEFAULT 0, `disputed` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), INDEX `reportrollup_total_hour` (`total`, `hour`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "report_rollups" table
DROP TABLE `report_rollups`;
-- reverse: create "report_marks" table
DROP TABLE `report_marks`;
-- reverse: create "report_cursors" table
DROP TABLE `report_cursors`;
-- reverse: create "reconciliation_runs" table
DROP TABLE `reconciliation_runs`;
-- reverse: create "reconciliation_lines" table
DROP TABLE `reconciliation_lines`;
-- reverse: create "discrepancies" table
DROP TABLE `discrepancies`;
