DROP INDEX `users_tenant_email`;--> statement-breakpoint
ALTER TABLE `users` ADD `disabled_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `removed_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `users_tenant_email` ON `users` (`tenant_id`,`email`) WHERE "users"."removed_at" IS NULL;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_secret_hash` text;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `previous_secret_expires_at` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `rotated_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_previous_secret_hash_unique` ON `api_keys` (`previous_secret_hash`);