"""Identity: canonical URLs, deterministic ids and content hashes, exact duplicates in a batch."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

from tasks.models import Article, Link, Skip

# Query parameters that only track the click, never select the content.
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|ocid|cmpid|smid|ref|ref_src"
    r"|__twitter_impression|at_medium|at_campaign|cmp|s_cid|sr_share)$",
    re.IGNORECASE,
)


# AMP variants that name the same article as the canonical page.
_AMP_PATH_RE = re.compile(r"/amp/?$|\.amp(?=$|\.html?$)", re.IGNORECASE)
_AMP_PARAMS = {("amp", ""), ("amp", "1"), ("outputtype", "amp"), ("output", "amp")}


def canonical_url(url: str) -> str:
    """The URL that names an article: normalised by courlan (case, default port, encoding,
    query order), without fragment, tracking parameters or AMP variant."""
    try:
        normalized = courlan.normalize_url(url.strip())
    except ValueError:
        normalized = url.strip()
    try:
        parts = urlsplit(normalized)
        port = parts.port
    except ValueError:  # an unbalanced "[" or a port that is not one: keep what was given
        return normalized
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets, or the URL names no host at all
        host = f"[{host}]"
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
              if not TRACKING_PARAMS.match(k) and (k.lower(), v.lower()) not in _AMP_PARAMS]
    path = _AMP_PATH_RE.sub("", parts.path) or "/"
    return urlunsplit((scheme, host, path, urlencode(sorted(params)), ""))


def normalized_for_hash(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form of a text, for exact-copy hashing."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


def _sha(text: str) -> str:
    # surrogatepass: a name read with surrogateescape still hashes (to a stable value)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def content_hash(body: str) -> str:
    """Hash of the normalised body: equal for copies that differ only in spacing or case."""
    return _sha(normalized_for_hash(body))


def url_id(canonical: str) -> str:
    """The article `_id` for a canonical URL."""
    return "u" + _sha(canonical)[:32]


def assign_identity(article: Article) -> Article:
    """Fill canonical URL, content hash and `id` (from the URL, else from the content)."""
    if article.url:
        article.canonical_url = canonical_url(article.url)
        article.source_domain = article.source_domain or urlsplit(article.canonical_url).hostname
    article.content_hash = content_hash(article.body)
    if article.canonical_url:
        article.id = url_id(article.canonical_url)
    else:
        article.id = "c" + _sha(normalized_for_hash(article.title) + "\n" + article.content_hash)[:32]
    return article


def drop_batch_duplicates(articles: list[Article], seen: dict[str, str] | None = None,
                          ) -> tuple[list[Article], list[Skip]]:
    """Keep the first article per id; later ones become Skips naming the copy they repeat.

    `seen` (id -> origin) carries the ids of earlier batches of the same run, so a copy in a
    later batch is named the same way; it grows by one short entry per article.
    """
    seen = {} if seen is None else seen
    kept: list[Article] = []
    skips: list[Skip] = []
    for article in articles:
        first = seen.get(article.id)
        if first is None:
            seen[article.id] = article.origin or article.id
            kept.append(article)
        else:
            skips.append(Skip(article.origin or article.id, "duplicate-in-run", f"same id as {first}"))
    return kept, skips


def dedupe_links(links: list[Link]) -> list[Link]:
    """Links with canonical URLs, one per URL (feeds repeat each other): a link from a feed or
    sitemap, which carries a date and title, wins over the same URL from a plain list."""
    seen: set[str] = set()
    out = []
    for link in sorted(links, key=lambda lk: lk.listing is None):
        canonical = canonical_url(link.url)
        if canonical not in seen:
            seen.add(canonical)
            out.append(replace(link, url=canonical))
    return out
