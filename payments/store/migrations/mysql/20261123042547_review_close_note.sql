-- +goose Up
-- modify "payments" table
ALTER TABLE `payments` ADD COLUMN `review_close_note` varchar(500) NOT NULL DEFAULT '';

-- +goose Down
-- reverse: modify "payments" table
ALTER TABLE `payments` DROP COLUMN `review_close_note`;
