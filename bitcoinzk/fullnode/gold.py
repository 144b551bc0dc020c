"""Gold: the Layer-2 state rebuilt from the Taproot envelopes on Bitcoin, with the STF.

`GoldReader` (bitcoinzk/da/gold.py) reassembles batches from envelopes and accepts one
when it extends the current root, its public input is its own data's and (if given a
verifier) its proof verifies. That says the data is what the proof was about; it does
not give anyone the state. `GoldFollower` also replays each batch with the STF before
accepting it, so it holds every account (balances, nonces, Merkle proofs) and refuses
a batch whose data does not produce its claimed root under the rules — which, without
a verifier (a reader that only trusts the publisher's key), is the only thing standing
between it and a sequencer that publishes a state transition the rules forbid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bitcoinzk.da.evm import DataUnavailable, PublishedBatch, replay_operations
from bitcoinzk.da.gold import GoldBatch, GoldError, GoldReader, ProofVerifier
from bitcoinzk.l2.genesis import Genesis
from bitcoinzk.l2.params import LEVEL_BITS
from bitcoinzk.l2.state import State


@dataclass
class GoldFollower(GoldReader):
    """A `GoldReader` that replays every batch it accepts on its own state."""

    state: State = field(default_factory=lambda: State(LEVEL_BITS))

    @classmethod
    def from_genesis(
        cls,
        genesis: Genesis,
        verify: ProofVerifier | None = None,
        publisher_key: bytes | None = None,
    ) -> GoldFollower:
        state = genesis.state()
        return cls(
            genesis.params, state.root, verify=verify, publisher_key=publisher_key, state=state
        )

    def check(self, batch: GoldBatch) -> None:
        """`GoldReader.check`, then the STF: the batch must replay to its new root.

        The reader accepts a batch right after it passes this check, so the replayed
        state is adopted here."""
        super().check(batch)
        published = PublishedBatch(
            batch.block_number,
            batch.old_root,
            batch.new_root,
            batch.pubdata,
            batch.proof,
            b"",
            b"",
            (),
            b"",
            0,
        )
        try:
            replayed, _ = replay_operations(self.state, self.params, published)
        except DataUnavailable as exc:
            raise GoldError(f"the STF refuses it: {exc}") from None
        self.state.merge(replayed)
