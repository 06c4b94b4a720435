/// The PostgreSQL store's schema: the SQLite store's tables as they stand at its v13, column for
/// column, so `store copy` moves rows without converting them. What differs, and why:
/// - `ctext` is text compared byte by byte, as SQLite does, whatever the database's locale;
/// - a fact from a file is found by its file (`facts_file`) to mark its orders changed, where
///   SQLite uses its rowid order;
/// - the counts SQLite keeps with triggers (actions by status, orders by state and day) are
///   plain aggregates here: a trigger's counter row would be one hot row every runner's
///   transaction waits for;
/// - the projections' version is a sequence, which never makes one fold wait for another.
enum PostgresSchema {
    static let v1 = """
        CREATE DOMAIN ctext AS TEXT COLLATE "C";

        CREATE TABLE runs (
            id ctext PRIMARY KEY, command ctext NOT NULL, as_of BIGINT NOT NULL, started_at BIGINT NOT NULL,
            finished_at BIGINT, status ctext NOT NULL, summary_json ctext, runner ctext);
        CREATE INDEX runs_as_of ON runs(as_of);
        CREATE INDEX runs_status ON runs(status);

        CREATE TABLE files (
            id BIGSERIAL PRIMARY KEY, hash ctext NOT NULL UNIQUE, feed ctext NOT NULL, name ctext NOT NULL, size BIGINT NOT NULL,
            status ctext NOT NULL, counts_json ctext NOT NULL, reason ctext, run_id ctext NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX files_name ON files(name);

        CREATE TABLE facts (
            id ctext PRIMARY KEY, order_ref ctext NOT NULL, kind ctext NOT NULL, occurred_at BIGINT NOT NULL,
            fields ctext NOT NULL, file_id BIGINT REFERENCES files(id), record_no BIGINT, line BIGINT,
            mapping ctext, mapping_version BIGINT, action ctext, run_id ctext NOT NULL);
        CREATE INDEX facts_order ON facts(order_ref);
        CREATE INDEX facts_file ON facts(file_id);

        CREATE TABLE file_sightings (
            seq BIGSERIAL PRIMARY KEY, run_id ctext NOT NULL, hash ctext NOT NULL, name ctext NOT NULL,
            feed ctext, outcome ctext NOT NULL, detail ctext, at BIGINT NOT NULL);
        CREATE INDEX file_sightings_run ON file_sightings(run_id);

        CREATE TABLE rejections (
            seq BIGSERIAL PRIMARY KEY, file_hash ctext NOT NULL, record_no BIGINT NOT NULL, line BIGINT NOT NULL, field ctext,
            reason ctext NOT NULL, record_ref ctext);
        CREATE INDEX rejections_file ON rejections(file_hash);

        CREATE TABLE dirty_orders (order_ref ctext PRIMARY KEY, version BIGINT NOT NULL DEFAULT 1);

        CREATE TABLE anomalies (
            order_ref ctext NOT NULL, fact_id ctext NOT NULL, code ctext NOT NULL, message ctext NOT NULL,
            occurred_at BIGINT NOT NULL, first_seen_at BIGINT NOT NULL,
            PRIMARY KEY (order_ref, fact_id, code));

        CREATE TABLE orders (
            ref ctext PRIMARY KEY, state ctext, state_since BIGINT, dealer_code ctext, country ctext,
            next_deadline_at BIGINT, anomalies BIGINT NOT NULL, view_json ctext NOT NULL, folded_at BIGINT NOT NULL,
            currency ctext, total_minor BIGINT NOT NULL DEFAULT 0, deposit_minor BIGINT NOT NULL DEFAULT 0,
            received_minor BIGINT NOT NULL DEFAULT 0, amount_due_minor BIGINT NOT NULL DEFAULT 0, final_payment_due_at BIGINT,
            review_at BIGINT, flagged BIGINT NOT NULL DEFAULT 0, vin ctext);
        CREATE INDEX orders_deadline ON orders(next_deadline_at);
        CREATE INDEX orders_review ON orders(review_at);
        CREATE INDEX orders_flagged ON orders(flagged);
        CREATE INDEX orders_state ON orders(state, state_since);
        CREATE INDEX orders_vin ON orders(vin) WHERE vin IS NOT NULL;
        CREATE SEQUENCE projections_version;

        CREATE TABLE actions (
            key ctext PRIMARY KEY, order_ref ctext NOT NULL, kind ctext NOT NULL, status ctext NOT NULL,
            attempts BIGINT NOT NULL, next_attempt_at BIGINT, lease_owner ctext, lease_until BIGINT,
            last_error ctext, outbox_file ctext, result_json ctext, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
        CREATE INDEX actions_status ON actions(status, kind);
        CREATE INDEX actions_order ON actions(order_ref);
        CREATE TABLE action_events (
            seq BIGSERIAL PRIMARY KEY, key ctext NOT NULL, at BIGINT NOT NULL, event ctext NOT NULL,
            status_before ctext NOT NULL, attempts_before BIGINT NOT NULL, last_error ctext, note ctext);
        CREATE INDEX action_events_key ON action_events(key);

        CREATE TABLE customers (
            customer_id ctext PRIMARY KEY, username ctext NOT NULL UNIQUE, created_at BIGINT NOT NULL);
        CREATE TABLE credentials (
            customer_id ctext PRIMARY KEY REFERENCES customers(customer_id), token_hash ctext NOT NULL,
            expires_at BIGINT NOT NULL, issued_at BIGINT NOT NULL, order_ref ctext NOT NULL);

        CREATE TABLE pulled_files (
            source ctext NOT NULL, remote_path ctext NOT NULL, size BIGINT NOT NULL, mtime BIGINT NOT NULL,
            local_name ctext NOT NULL, fetched_at BIGINT NOT NULL, after_done BIGINT NOT NULL,
            PRIMARY KEY (source, remote_path, size, mtime));
        CREATE TABLE remote_observations (
            source ctext NOT NULL, remote_path ctext NOT NULL, size BIGINT NOT NULL, mtime BIGINT NOT NULL,
            since BIGINT NOT NULL, PRIMARY KEY (source, remote_path));
        CREATE TABLE pushed_files (
            destination ctext NOT NULL, local_path ctext NOT NULL, hash ctext NOT NULL, remote_path ctext NOT NULL,
            pushed_at BIGINT NOT NULL, PRIMARY KEY (destination, local_path, hash));
        CREATE TABLE transfers (
            seq BIGSERIAL PRIMARY KEY, run_id ctext NOT NULL, direction ctext NOT NULL, endpoint ctext NOT NULL,
            name ctext, outcome ctext NOT NULL, detail ctext, bytes BIGINT NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX transfers_run ON transfers(run_id);

        CREATE TABLE feed_sequences (
            feed ctext NOT NULL, scope ctext NOT NULL, number BIGINT NOT NULL, file_hash ctext NOT NULL,
            PRIMARY KEY (feed, scope, number));

        CREATE TABLE registrations (
            order_ref ctext PRIMARY KEY, country ctext NOT NULL, generation BIGINT NOT NULL,
            submission_id ctext NOT NULL UNIQUE, phase ctext NOT NULL, plate ctext, field ctext, reason ctext,
            accepted_at BIGINT, updated_at BIGINT NOT NULL);
        CREATE TABLE registration_attempts (
            seq BIGSERIAL PRIMARY KEY, order_ref ctext NOT NULL, submission_id ctext NOT NULL,
            country ctext NOT NULL, kind ctext NOT NULL, at BIGINT NOT NULL, http_status BIGINT,
            duration_ms BIGINT NOT NULL, outcome ctext NOT NULL, detail ctext);
        CREATE INDEX registration_attempts_order ON registration_attempts(order_ref);

        CREATE TABLE exceptions (
            key ctext PRIMARY KEY, rule ctext NOT NULL, owner ctext NOT NULL, subject ctext NOT NULL,
            first_seen_at BIGINT NOT NULL, first_seen_run ctext NOT NULL, resolved_at BIGINT, resolved_run ctext,
            dismissed_note ctext);
        CREATE INDEX exceptions_open ON exceptions(resolved_at);
        CREATE TABLE exception_events (
            seq BIGSERIAL PRIMARY KEY, key ctext NOT NULL, rule ctext NOT NULL, owner ctext NOT NULL,
            subject ctext NOT NULL, event ctext NOT NULL, at BIGINT NOT NULL, run_id ctext NOT NULL);
        CREATE INDEX exception_events_at ON exception_events(at);

        CREATE TABLE settings (key ctext PRIMARY KEY, value ctext NOT NULL);

        CREATE TABLE file_requeues (
            seq BIGSERIAL PRIMARY KEY, hash ctext NOT NULL, name ctext NOT NULL, feed ctext NOT NULL,
            status_before ctext NOT NULL, reason_before ctext, counts_before ctext NOT NULL, run_before ctext NOT NULL,
            at_before BIGINT NOT NULL, note ctext NOT NULL, at BIGINT NOT NULL);
        CREATE INDEX file_requeues_hash ON file_requeues(hash);
        CREATE TABLE requeued_rejections (
            requeue_seq BIGINT NOT NULL, record_no BIGINT NOT NULL, line BIGINT NOT NULL, field ctext, reason ctext NOT NULL,
            record_ref ctext);

        CREATE TABLE stock_sales (
            seq BIGSERIAL PRIMARY KEY, vin ctext NOT NULL, order_ref ctext NOT NULL, released_by ctext NOT NULL,
            sale_fact ctext NOT NULL, claimed_at BIGINT NOT NULL, UNIQUE(order_ref, vin));
        CREATE INDEX stock_sales_vin ON stock_sales(vin);

        CREATE TABLE pull_claims (
            source ctext NOT NULL, remote_path ctext NOT NULL, size BIGINT NOT NULL, mtime BIGINT NOT NULL,
            run_id ctext NOT NULL, until BIGINT NOT NULL, PRIMARY KEY (source, remote_path, size, mtime));
        """
}
