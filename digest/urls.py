"""Which query parameters only track the reader: shared by ingest (article ids) and dedup (URL equality)."""

from __future__ import annotations

# Click and campaign identifiers added by ad networks, mailers and social sites.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
    "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "vero_conv", "ref_src", "s_cid", "cmpid", "ncid", "sr_share", "guccounter", "guce_referrer",
    "guce_referrer_sig", "_ga", "_gl", "wt.mc_id", "wt_mc_id", "ocid", "spm", "trk", "trkcampaign", "__twitter_impression",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "stm_", "_bta_")


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
