#!/usr/bin/env python3
"""Runs IBM network-config-analyzer (as installed by pip) with one fix applied in memory.

network-config-analyzer 2.1.0 evaluates a `matchExpressions` requirement with `Exists` or
`DoesNotExist` inside a peer's podSelector only against pods of the policy's own namespace
(PeerContainer.get_peers_with_key is called with the policy's namespace), even when the peer
also has a namespaceSelector. Kubernetes applies the podSelector in every namespace the
namespaceSelector selects, so NCA misses cross-namespace peers such as

    from:
    - namespaceSelector: {}
      podSelector: {matchExpressions: [{key: app, operator: Exists}]}

This wrapper passes no namespace to that lookup. That is safe: every caller intersects the
result with the right namespaces (the policy's own for spec.podSelector and for peers
without a namespaceSelector; the selected namespaces otherwise).

It exists only to show that, with this one difference removed, NCA and kubesurface give the
same answer on the generated clusters:

    kubesurface-bench compare-nca --pods 2000 --nca bench/nca-exists-fix.py

Use it with the Python that has network-config-analyzer installed (a venv's python, or
NCA_PYTHON=/path/to/python).
"""
import os
import sys

if os.environ.get("NCA_PYTHON") and os.path.realpath(sys.executable) != os.path.realpath(os.environ["NCA_PYTHON"]):
    os.execv(os.environ["NCA_PYTHON"], [os.environ["NCA_PYTHON"], __file__] + sys.argv[1:])

import nca.NetworkConfig.PeerContainer as peer_container  # noqa: E402

_original = peer_container.PeerContainer.get_peers_with_key


def _every_namespace(self, namespace, key, does_not_exist):
    return _original(self, None, key, does_not_exist)


peer_container.PeerContainer.get_peers_with_key = _every_namespace

from nca.nca_cli import nca_main  # noqa: E402

sys.exit(nca_main())
