-- What a vCPU and a GiB of memory cost a month, set on the capacity page or through the API:
-- right-sizing then says what its changes save or cost in money. One row at most (the key is
-- always true); none means no prices are set.
CREATE TABLE capacity_prices (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    currency text NOT NULL CHECK (char_length(currency) BETWEEN 1 AND 8),
    vcpu_month double precision NOT NULL CHECK (vcpu_month >= 0),
    gib_month double precision NOT NULL CHECK (gib_month >= 0),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
