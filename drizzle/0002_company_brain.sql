CREATE TABLE `brain_entities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`type` text NOT NULL,
	`key` text NOT NULL,
	`name` text NOT NULL,
	`attributes` text NOT NULL,
	`search_text` text NOT NULL,
	`source` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `brain_entities_tenant_type_key` ON `brain_entities` (`tenant_id`,`type`,`key`);--> statement-breakpoint
CREATE TABLE `brain_relations` (
	`tenant_id` text NOT NULL,
	`from_id` integer NOT NULL,
	`relation` text NOT NULL,
	`to_id` integer NOT NULL,
	PRIMARY KEY(`from_id`, `relation`, `to_id`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`from_id`) REFERENCES `brain_entities`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`to_id`) REFERENCES `brain_entities`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `brain_relations_to` ON `brain_relations` (`to_id`,`relation`);