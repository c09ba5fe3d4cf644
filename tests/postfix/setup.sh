#!/usr/bin/env bash
# Debian's Postfix for tests/test_postfix.py: loopback only, no relaying anywhere,
# every address @digest.example delivered to one Maildir. Needs root; idempotent.
# Usage: bash tests/postfix/setup.sh   (.ci/run calls it)
set -euo pipefail

MAILDIR_BASE=/var/spool/digest-maildir   # tests/test_postfix.py reads $MAILDIR_BASE/inbox/new
DOMAIN=digest.example

if [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null; then
    echo "postfix setup skipped (needs root and Debian's postfix)"
    exit 0
fi

postconf -e \
    "inet_interfaces = loopback-only" \
    "inet_protocols = ipv4" \
    "mydestination = localhost" \
    "relayhost =" \
    "default_transport = error:this test relay delivers to $DOMAIN only" \
    "mynetworks = 127.0.0.0/8" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "virtual_mailbox_domains = $DOMAIN" \
    "virtual_mailbox_base = $MAILDIR_BASE" \
    "virtual_mailbox_maps = static:inbox/" \
    "virtual_uid_maps = static:65534" \
    "virtual_gid_maps = static:65534" \
    "maillog_file = /var/log/postfix.log"

mkdir -p "$MAILDIR_BASE"
chown 65534:65534 "$MAILDIR_BASE"
[ -f /etc/aliases.db ] || newaliases
postfix check
if postfix status >/dev/null 2>&1; then
    postfix reload >/dev/null 2>&1
else
    postfix start >/dev/null 2>&1
fi
echo "postfix: listening on 127.0.0.1:25, mail for @$DOMAIN in $MAILDIR_BASE/inbox/"
