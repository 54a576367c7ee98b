"""Support code shared by tests and benchmarks: loopback HTTP servers, a fake news site and the
syndication corpus. Never imported by the product."""
