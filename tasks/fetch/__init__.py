"""Fetch: polite, SSRF-guarded HTTP (client, requester, decoding, charset, net_guard), discovery of
article links in feeds, sitemaps and URL lists (discover), pages to Articles (web), one fetcher
per run (session)."""
