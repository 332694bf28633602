CREATE TABLE `group_members` (
	`tenant_id` text NOT NULL,
	`group_name` text NOT NULL,
	`user_id` text NOT NULL,
	`added_by` text,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `group_name`, `user_id`)
);
--> statement-breakpoint
CREATE TABLE `groups` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `approvals` ADD `approver_groups` text;