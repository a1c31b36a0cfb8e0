-- +goose Up
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
