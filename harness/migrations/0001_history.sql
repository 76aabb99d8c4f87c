-- The results history: runs, their cells and repetitions, and the testbeds they ran on.
-- Portable SQL: the same file migrates SQLite and PostgreSQL.

CREATE TABLE testbeds (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,  -- JSON: cpu, memory, kernel, fio, runtimes
    recorded_at TEXT NOT NULL
);

CREATE TABLE runs (
    run_id      TEXT NOT NULL,
    matrix      TEXT NOT NULL,
    matrix_hash TEXT NOT NULL,
    started_at  TEXT NOT NULL,  -- RFC 3339
    started_ms  BIGINT NOT NULL,  -- Unix milliseconds, for ordering
    git_commit  TEXT,
    testbed     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    dir         TEXT NOT NULL,  -- the run directory (raw outputs, histograms, logs)
    PRIMARY KEY (run_id, matrix)
);

CREATE TABLE cells (
    run_id      TEXT NOT NULL,
    matrix      TEXT NOT NULL,
    cell        TEXT NOT NULL,
    runtime     TEXT NOT NULL,
    pattern     TEXT NOT NULL,
    clients     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    bw_bytes    DOUBLE PRECISION,
    iops        DOUBLE PRECISION,
    p50_ns      BIGINT,
    p90_ns      BIGINT,
    p99_ns      BIGINT,
    p999_ns     BIGINT,
    ios         BIGINT,
    provenance  TEXT NOT NULL,  -- JSON
    histogram   TEXT,           -- relative to the run directory
    started_at  TEXT NOT NULL,
    duration_s  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, matrix, cell),
    FOREIGN KEY (run_id, matrix) REFERENCES runs (run_id, matrix)
);

CREATE TABLE repetitions (
    run_id     TEXT NOT NULL,
    matrix     TEXT NOT NULL,
    cell       TEXT NOT NULL,
    repetition BIGINT NOT NULL,
    bw_bytes   DOUBLE PRECISION NOT NULL,
    iops       DOUBLE PRECISION NOT NULL,
    p50_ns     BIGINT NOT NULL,
    p90_ns     BIGINT NOT NULL,
    p99_ns     BIGINT NOT NULL,
    p999_ns    BIGINT NOT NULL,
    raw        TEXT NOT NULL,   -- fio json+, relative to the run directory
    PRIMARY KEY (run_id, matrix, cell, repetition),
    FOREIGN KEY (run_id, matrix, cell) REFERENCES cells (run_id, matrix, cell)
);

CREATE INDEX runs_by_start ON runs (started_ms);
CREATE INDEX cells_by_name ON cells (cell);
