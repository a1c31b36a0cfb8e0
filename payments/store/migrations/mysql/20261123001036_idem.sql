-- +goose Up
-- modify "idempotency_records" table: records are swept by age (created_at),
-- and take-overs are counted (attempts); expires_at is gone.
ALTER TABLE `idempotency_records` DROP INDEX `idempotencyrecord_expires_at`, DROP COLUMN `expires_at`, ADD COLUMN `attempts` bigint NOT NULL DEFAULT 1, ADD INDEX `idempotencyrecord_created_at` (`created_at`);

-- +goose Down
-- reverse: modify "idempotency_records" table
ALTER TABLE `idempotency_records` DROP INDEX `idempotencyrecord_created_at`, DROP COLUMN `attempts`, ADD COLUMN `expires_at` datetime(6) NOT NULL, ADD INDEX `idempotencyrecord_expires_at` (`expires_at`);
