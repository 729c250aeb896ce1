-- Commerce data (SPEC ING-1..3, ING-7..9): customers, interactions, products, orders and
-- their lines, reviews, competitor prices, inventory levels, and the import batches every row
-- traces back to. Every table is tenant-owned: `org_id` leads every primary, unique and
-- foreign key (ready for distribution by org_id), and row-level security is forced with the
-- same policy as the identity tables (`app.org_id`, set only by TenantTx).
--
-- Sized for 100 M interactions in one organization:
-- - interactions are range-partitioned by month of `occurred_at`: time-range reads touch only
--   their months, old months can be detached or archived whole, and each month's indexes
--   stay small enough to live in memory while it is being written.
-- - a partitioned table's unique keys must contain the partition key, so "one interaction per
--   external id" is kept in `interaction_keys` (not partitioned), written in the same
--   transaction; it also answers "which month holds this id" for updates.
-- - full-text search reads a stored `search_vector`, filled after ingest by the text worker:
--   maintaining a GIN index on raw text at ingest costs more than half of a bulk load
--   (../shared/FACTS.md), and a stored vector avoids recomputing it at query time.
-- - amounts are numeric in the record's own currency; customer revenue adds order totals as
--   sent (one currency per organization until exchange rates arrive with pricing).

-- ---------------------------------------------------------------- import batches (lineage)
-- One row per REST batch, CSV file, webhook delivery or demo-data run: where rows came from.
create table import_batches (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    source text not null check (source in ('rest', 'csv', 'webhook', 'seed')),
    entity text not null check (entity in
        ('customers', 'interactions', 'orders', 'products', 'reviews', 'competitor_prices', 'inventory')),
    status text not null default 'pending'
        check (status in ('pending', 'running', 'succeeded', 'failed')),
    file_name text,
    rows_total bigint,
    rows_done bigint not null default 0,
    rows_accepted bigint not null default 0,
    rows_rejected bigint not null default 0,
    created_by uuid,
    created_by_api_key uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz,
    primary key (org_id, id)
);

-- Serves the imports page: newest first.
create index import_batches_recent_idx on import_batches (org_id, created_at desc);

-- Every rejected row of a batch, for the error report (line numbers count from 1 = header).
create table import_errors (
    org_id uuid not null,
    batch_id uuid not null,
    line bigint not null,
    field text not null default '',
    code text not null,
    message text not null,
    primary key (org_id, batch_id, line, field),
    foreign key (org_id, batch_id) references import_batches (org_id, id) on delete cascade
);

-- ---------------------------------------------------------------- customers
create table customers (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    external_id text not null check (length(external_id) between 1 and 200),
    email text,
    name text,
    country char(2),
    segment text,
    metadata jsonb not null default '{}'::jsonb,
    -- Aggregates (SPEC ING-8), updated in the transaction that writes the records behind them.
    first_seen_at timestamptz,
    last_seen_at timestamptz,
    interaction_count bigint not null default 0,
    order_count bigint not null default 0,
    revenue numeric(20, 4) not null default 0,
    sentiment_sum double precision not null default 0,
    sentiment_count bigint not null default 0,
    batch_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id),
    -- Serves "customer by external id" on every write (created on first sight).
    unique (org_id, external_id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- Serves the customers list searched by email.
create index customers_email_idx on customers (org_id, lower(email)) where email is not null;
-- Serves the customers list ordered by recent activity.
create index customers_last_seen_idx on customers (org_id, last_seen_at desc nulls last);

-- ---------------------------------------------------------------- interactions
create table interactions (
    org_id uuid not null,
    id uuid not null default gen_random_uuid(),
    customer_id uuid not null,
    external_id text not null check (length(external_id) between 1 and 200),
    occurred_at timestamptz not null,
    channel text not null check (channel in ('web', 'mobile', 'email', 'chat', 'phone')),
    event_type text not null check (length(event_type) between 1 and 100),
    content text,
    metadata jsonb not null default '{}'::jsonb,
    -- Filled by the text worker, not at ingest (see the header).
    search_vector tsvector,
    batch_id uuid,
    source_line bigint,
    created_at timestamptz not null default now(),
    primary key (org_id, occurred_at, id),
    foreign key (org_id, customer_id) references customers (org_id, id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
) partition by range (occurred_at);

-- Serves a customer's timeline: newest first.
create index interactions_customer_idx on interactions (org_id, customer_id, occurred_at desc);
-- Serves time-range aggregates and rollup rebuilds by channel.
create index interactions_time_idx on interactions (org_id, occurred_at, channel);
-- Serves full-text search over interaction text.
create index interactions_search_idx on interactions using gin (search_vector);

-- One row per external id: idempotency for a partitioned table (see the header).
create table interaction_keys (
    org_id uuid not null,
    external_id text not null,
    id uuid not null,
    occurred_at timestamptz not null,
    primary key (org_id, external_id)
);

-- Catches rows of months nobody prepared (the write path prepares each month first).
create table interactions_default partition of interactions default;

-- Creates the month partition holding `at`, if missing. Runs as the owner (the application
-- role may not create tables) and is the only DDL the application can cause. Partitions are
-- reachable only through `interactions`, whose row-level security then applies.
create function ensure_interactions_partition(at timestamptz) returns text
    language plpgsql security definer set search_path = public, pg_temp as $$
declare
    month date := date_trunc('month', at at time zone 'UTC')::date;
    name text := format('interactions_%s', to_char(month, 'YYYY_MM'));
begin
    if month < date '1970-01-01' or month > date '2200-01-01' then
        raise exception 'month % is out of range', month;
    end if;
    if to_regclass(name) is not null then
        return name;
    end if;
    -- One creator at a time; the loser finds the table made.
    perform pg_advisory_xact_lock(hashtext('ensure_interactions_partition'));
    if to_regclass(name) is null then
        execute format(
            'create table %I partition of interactions for values from (%L) to (%L)',
            name, (month::timestamp at time zone 'UTC'), ((month + interval '1 month')::timestamp at time zone 'UTC'));
        execute format('revoke all on %I from sightline_app', name);
    end if;
    return name;
end
$$;

revoke all on function ensure_interactions_partition(timestamptz) from public;
grant execute on function ensure_interactions_partition(timestamptz) to sightline_app;
revoke all on interactions_default from sightline_app;

-- ---------------------------------------------------------------- products
create table products (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    sku text not null check (length(sku) between 1 and 200),
    -- The canonical form marketplace formats map to (SPEC ING-7).
    normalized_sku text not null,
    name text not null,
    category text,
    cost numeric(20, 4) check (cost >= 0),
    price numeric(20, 4) check (price >= 0),
    currency char(3),
    marketplace text,
    batch_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id),
    -- Serves "product by SKU" on every order line, review and price observation.
    unique (org_id, normalized_sku),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- Serves revenue and margin by category.
create index products_category_idx on products (org_id, category);

-- ---------------------------------------------------------------- orders
-- Not partitioned: an order is ~1/50 of the interactions, and idempotency needs a plain
-- unique key on the external id.
create table orders (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    external_id text not null check (length(external_id) between 1 and 200),
    customer_id uuid not null,
    ordered_at timestamptz not null,
    status text not null check (status in ('pending', 'paid', 'fulfilled', 'refunded', 'cancelled')),
    currency char(3) not null,
    total numeric(20, 4) not null check (total >= 0),
    payment_method text,
    country char(2),
    region text,
    channel text check (channel in ('web', 'mobile', 'email', 'chat', 'phone')),
    batch_id uuid,
    source_line bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id),
    unique (org_id, external_id),
    foreign key (org_id, customer_id) references customers (org_id, id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- Serves a customer's orders (profile, lifetime value): newest first.
create index orders_customer_idx on orders (org_id, customer_id, ordered_at desc);
-- Serves revenue by period, channel and region.
create index orders_time_idx on orders (org_id, ordered_at);

create table order_lines (
    org_id uuid not null,
    order_id uuid not null,
    line_no integer not null check (line_no >= 1),
    product_id uuid,
    sku text not null,
    quantity integer not null check (quantity > 0),
    unit_price numeric(20, 4) not null check (unit_price >= 0),
    primary key (org_id, order_id, line_no),
    foreign key (org_id, order_id) references orders (org_id, id) on delete cascade,
    foreign key (org_id, product_id) references products (org_id, id)
);

-- Serves "bought together" and sales per product.
create index order_lines_product_idx on order_lines (org_id, product_id);

-- ---------------------------------------------------------------- reviews
create table reviews (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    external_id text not null check (length(external_id) between 1 and 200),
    product_id uuid,
    sku text not null,
    customer_id uuid,
    rating smallint not null check (rating between 1 and 5),
    content text not null,
    reviewed_at timestamptz not null,
    marketplace text,
    -- Flagged by the spam filter, kept for review (SPEC ING-7): never silently dropped.
    spam_reason text,
    search_vector tsvector,
    batch_id uuid,
    source_line bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, id),
    unique (org_id, external_id),
    foreign key (org_id, product_id) references products (org_id, id),
    foreign key (org_id, customer_id) references customers (org_id, id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- Serves a product's reviews, newest first.
create index reviews_product_idx on reviews (org_id, product_id, reviewed_at desc);
-- Serves full-text search over review text.
create index reviews_search_idx on reviews using gin (search_vector);

-- ---------------------------------------------------------------- competitor prices
create table competitor_prices (
    org_id uuid not null references organizations (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    product_id uuid,
    sku text,
    competitor_sku text,
    competitor text not null,
    price numeric(20, 4) not null check (price >= 0),
    currency char(3) not null,
    promotion text,
    observed_at timestamptz not null,
    batch_id uuid,
    created_at timestamptz not null default now(),
    primary key (org_id, id),
    check (sku is not null or competitor_sku is not null),
    -- The same observation sent twice is one observation.
    unique nulls not distinct (org_id, competitor, sku, competitor_sku, observed_at),
    foreign key (org_id, product_id) references products (org_id, id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- Serves a product's price history against competitors.
create index competitor_prices_product_idx on competitor_prices (org_id, product_id, observed_at desc);

-- ---------------------------------------------------------------- inventory
create table inventory_levels (
    org_id uuid not null references organizations (id) on delete cascade,
    product_id uuid,
    sku text not null,
    observed_at timestamptz not null,
    on_hand integer not null check (on_hand >= 0),
    batch_id uuid,
    primary key (org_id, sku, observed_at),
    foreign key (org_id, product_id) references products (org_id, id),
    foreign key (org_id, batch_id) references import_batches (org_id, id)
);

-- ---------------------------------------------------------------- scoring queue (ING-9)
-- Texts waiting for the text worker, written in the same transaction as the text.
create table scoring_queue (
    org_id uuid not null references organizations (id) on delete cascade,
    id bigint generated always as identity,
    subject text not null check (subject in ('interaction', 'review')),
    subject_id uuid not null,
    -- Interactions are found by (occurred_at, id) in their partition.
    subject_at timestamptz,
    attempts integer not null default 0,
    run_after timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null default now(),
    primary key (org_id, id)
);

-- Serves the worker's "next due texts".
create index scoring_queue_due_idx on scoring_queue (run_after, org_id);

-- ---------------------------------------------------------------- tenant isolation
do $$
declare
    t text;
begin
    foreach t in array array['import_batches', 'import_errors', 'customers', 'interactions',
                             'interaction_keys', 'products', 'orders', 'order_lines', 'reviews',
                             'competitor_prices', 'inventory_levels', 'scoring_queue'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I
                using (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)
                with check (org_id = nullif(current_setting(''app.org_id'', true), '''')::uuid)',
            t || '_tenant_isolation', t);
    end loop;
end
$$;
