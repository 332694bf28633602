CREATE TABLE `policy_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`version` integer NOT NULL,
	`status` text NOT NULL,
	`source` text NOT NULL,
	`comment` text,
	`created_by` text,
	`created_at` integer NOT NULL,
	`published_by` text,
	`published_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `policy_versions_tenant_version` ON `policy_versions` (`tenant_id`,`version`);--> statement-breakpoint
CREATE INDEX `policy_versions_tenant_status` ON `policy_versions` (`tenant_id`,`status`);