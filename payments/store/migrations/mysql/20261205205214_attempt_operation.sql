-- +goose Up
-- modify "payment_attempts" table
ALTER TABLE `payment_attempts` ADD COLUMN `operation` enum('CAPTURE','VOID') NULL, ADD COLUMN `operation_amount` bigint NOT NULL DEFAULT 0;

-- +goose Down
-- reverse: modify "payment_attempts" table
ALTER TABLE `payment_attempts` DROP COLUMN `operation_amount`, DROP COLUMN `operation`;
