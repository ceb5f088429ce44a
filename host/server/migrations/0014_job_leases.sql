-- Jobs with owners and leases (issue 16): the node running a job (`owner`, its node id) and
-- until when its claim holds (`lease_until`, RFC 3339 UTC text like every timestamp here,
-- so text order is time order). The owner renews the lease while the job runs; any node
-- may take back a job whose lease has run out, and a node at start takes back only those
-- and its own, never another live node's. NULL lease (rows from before): expired.
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
