/// The event catalogue of the agihub market: one `#[event]` struct per state change, emitted only
/// through the package-internal functions below, so `market` is the single emitter and indexers
/// have one file to read. Names and field names match the Vyper port (contracts/evm/market.vy);
/// `tests/contracts/move/test_cross_check.py` checks that they stay in step.
///
/// `vector<u8>` fields named `*_root`, `*_commit`, `key`, `salt`, `commitment` and `nostr_pubkey`
/// are always exactly 32 bytes (the EVM `bytes32`); the market checks lengths before emitting.
module agihub::events {
    use std::string::String;
    use aptos_framework::event;

    // ---------------------------------------------------------------- relay registry

    #[event]
    /// A relay joined the registry.
    struct RelayRegistered has drop, store {
        /// Account of the relay operator; it signs `take_order` and `reveal_key`.
        relay: address,
        /// The relay's Nostr public key (x-only secp256k1, 32 bytes).
        nostr_pubkey: vector<u8>,
        /// Where clients reach the relay (URL, at most 256 bytes).
        endpoint: String,
    }

    #[event]
    /// A registered relay changed its key or endpoint.
    struct RelayUpdated has drop, store {
        /// Account of the relay operator.
        relay: address,
        /// The new Nostr public key.
        nostr_pubkey: vector<u8>,
        /// The new endpoint.
        endpoint: String,
    }

    #[event]
    /// A relay left the registry; orders listing it can no longer be taken by it.
    struct RelayDeregistered has drop, store {
        /// Account of the relay operator.
        relay: address,
    }

    // ---------------------------------------------------------------- orders

    #[event]
    /// A buyer opened an order and escrowed `down + cost + tip`.
    struct OrderPulled has drop, store {
        /// Global order id (counter from 1).
        order_id: u64,
        /// The buyer's account.
        buyer: address,
        /// Merkle root of the model package being bought (32 bytes).
        model_root: vector<u8>,
        /// Relays allowed to take the order (1..MAX_RELAYS, no duplicates).
        relays: vector<address>,
        /// Down payment, paid to the relay when it takes the order.
        down: u64,
        /// Price paid to the relay when it reveals the key.
        cost: u64,
        /// Optional extra paid with `cost`.
        tip: u64,
        /// Last second (Unix time) at which a relay may take the order.
        take_deadline: u64,
        /// Seconds the buyer has to confirm delivery after the take.
        ack_window: u64,
        /// Seconds the relay has to reveal the key after the confirmation.
        reveal_window: u64,
    }

    #[event]
    /// The buyer added funds to an order.
    struct PaymentRaised has drop, store {
        /// The order.
        order_id: u64,
        /// Amount added to the down payment.
        down: u64,
        /// Amount added to the cost.
        cost: u64,
        /// Amount added to the tip.
        tip: u64,
        /// Down payment after the raise.
        new_down: u64,
        /// Cost after the raise.
        new_cost: u64,
        /// Tip after the raise.
        new_tip: u64,
    }

    #[event]
    /// The buyer cancelled an open order and was credited the refund.
    struct OrderCancelled has drop, store {
        /// The order.
        order_id: u64,
        /// Amount credited back to the buyer (`down + cost + tip`).
        refund: u64,
    }

    #[event]
    /// A listed relay took the order and committed to the decryption key.
    struct OrderTaken has drop, store {
        /// The order.
        order_id: u64,
        /// The relay that took it (the taker).
        relay: address,
        /// keccak256(key ‖ salt ‖ order_id as 32-byte big-endian ‖ relay as 32 bytes).
        key_commit: vector<u8>,
        /// Last second at which the buyer may confirm delivery.
        ack_deadline: u64,
        /// Down payment credited to the relay.
        down_paid: u64,
    }

    #[event]
    /// The buyer confirmed that the encrypted shards arrived.
    struct OrderConfirmed has drop, store {
        /// The order.
        order_id: u64,
        /// Merkle root of the ciphertext the buyer received (32 bytes).
        delivery_root: vector<u8>,
        /// Last second at which the taker may reveal the key.
        reveal_deadline: u64,
    }

    #[event]
    /// The taker revealed the key; the order is complete and the relay was paid.
    struct KeyRevealed has drop, store {
        /// The order.
        order_id: u64,
        /// The taker.
        relay: address,
        /// The decryption key (32 bytes).
        key: vector<u8>,
        /// The commitment salt (32 bytes).
        salt: vector<u8>,
        /// Amount credited to the relay (`cost + tip - fee`).
        relay_amount: u64,
        /// Protocol fee moved into the reward pool.
        fee: u64,
    }

    #[event]
    /// A deadline passed and the order expired.
    struct OrderSettled has drop, store {
        /// The order.
        order_id: u64,
        /// The state the order expired from (OPEN=1, TAKEN=2, ACKED=3); u64 to match the EVM uint256.
        from_state: u64,
        /// Amount credited back to the buyer.
        refund: u64,
    }

    #[event]
    /// An account withdrew its credits.
    struct Withdrawn has drop, store {
        /// The account paid.
        account: address,
        /// Amount paid out.
        amount: u64,
    }

    // ---------------------------------------------------------------- administration

    #[event]
    /// The pending admin accepted the role.
    struct AdminChanged has drop, store {
        /// The previous admin.
        old_admin: address,
        /// The new admin.
        new_admin: address,
    }

    #[event]
    /// The protocol fee changed.
    struct FeeChanged has drop, store {
        /// The new fee in basis points (at most FEE_CAP_BPS).
        bps: u64,
    }

    #[event]
    /// A score validator was added.
    struct ValidatorAdded has drop, store {
        /// The validator account.
        validator: address,
    }

    #[event]
    /// A score validator was removed.
    struct ValidatorRemoved has drop, store {
        /// The validator account.
        validator: address,
    }

    #[event]
    /// The number of matching reveals that finalizes a score changed.
    struct QuorumChanged has drop, store {
        /// The new quorum (at least 1).
        quorum: u64,
    }

    // ---------------------------------------------------------------- contributions

    #[event]
    /// A contributor registered a model version for scoring in the current epoch.
    struct ContributionRegistered has drop, store {
        /// Contribution id (counter from 1).
        contribution_id: u64,
        /// The contributor's account, paid by `claim_reward`.
        contributor: address,
        /// Merkle root of the contributed model (32 bytes).
        model_root: vector<u8>,
        /// Merkle root of the model it improves (32 bytes, zero for a first version).
        parent_root: vector<u8>,
        /// The epoch the contribution is scored in.
        epoch: u64,
    }

    #[event]
    /// A validator committed to a score without showing it.
    struct ScoreCommitted has drop, store {
        /// The contribution.
        contribution_id: u64,
        /// The validator.
        validator: address,
        /// keccak256(score 32-byte BE ‖ salt ‖ contribution_id 32-byte BE ‖ validator 32 bytes).
        commitment: vector<u8>,
    }

    #[event]
    /// A validator revealed the score it committed to.
    struct ScoreRevealed has drop, store {
        /// The contribution.
        contribution_id: u64,
        /// The validator.
        validator: address,
        /// The revealed PoWoC score.
        score: u64,
    }

    #[event]
    /// `quorum` validators revealed the same score; it now counts in the epoch total.
    struct ScoreFinalized has drop, store {
        /// The contribution.
        contribution_id: u64,
        /// The final score.
        score: u64,
        /// The epoch whose total it was added to.
        epoch: u64,
    }

    #[event]
    /// An epoch ended; its pool is shared among its final scores.
    struct EpochClosed has drop, store {
        /// The epoch that closed.
        epoch: u64,
        /// The pool assigned to it (0 when no score was final: the pool rolls into the next epoch).
        pool: u64,
        /// Sum of the epoch's final scores.
        total_score: u64,
    }

    #[event]
    /// A contributor was credited its share of a closed epoch's pool.
    struct RewardClaimed has drop, store {
        /// The contribution.
        contribution_id: u64,
        /// The contributor credited.
        contributor: address,
        /// Amount credited (`pool * score / total_score`).
        amount: u64,
    }

    // ---------------------------------------------------------------- emitters (package-only)

    public(package) fun relay_registered(relay: address, nostr_pubkey: vector<u8>, endpoint: String) {
        event::emit(RelayRegistered { relay, nostr_pubkey, endpoint });
    }

    public(package) fun relay_updated(relay: address, nostr_pubkey: vector<u8>, endpoint: String) {
        event::emit(RelayUpdated { relay, nostr_pubkey, endpoint });
    }

    public(package) fun relay_deregistered(relay: address) {
        event::emit(RelayDeregistered { relay });
    }

    public(package) fun order_pulled(
        order_id: u64,
        buyer: address,
        model_root: vector<u8>,
        relays: vector<address>,
        down: u64,
        cost: u64,
        tip: u64,
        take_deadline: u64,
        ack_window: u64,
        reveal_window: u64,
    ) {
        event::emit(OrderPulled {
            order_id, buyer, model_root, relays, down, cost, tip, take_deadline, ack_window, reveal_window
        });
    }

    public(package) fun payment_raised(
        order_id: u64, down: u64, cost: u64, tip: u64, new_down: u64, new_cost: u64, new_tip: u64
    ) {
        event::emit(PaymentRaised { order_id, down, cost, tip, new_down, new_cost, new_tip });
    }

    public(package) fun order_cancelled(order_id: u64, refund: u64) {
        event::emit(OrderCancelled { order_id, refund });
    }

    public(package) fun order_taken(
        order_id: u64, relay: address, key_commit: vector<u8>, ack_deadline: u64, down_paid: u64
    ) {
        event::emit(OrderTaken { order_id, relay, key_commit, ack_deadline, down_paid });
    }

    public(package) fun order_confirmed(order_id: u64, delivery_root: vector<u8>, reveal_deadline: u64) {
        event::emit(OrderConfirmed { order_id, delivery_root, reveal_deadline });
    }

    public(package) fun key_revealed(
        order_id: u64, relay: address, key: vector<u8>, salt: vector<u8>, relay_amount: u64, fee: u64
    ) {
        event::emit(KeyRevealed { order_id, relay, key, salt, relay_amount, fee });
    }

    public(package) fun order_settled(order_id: u64, from_state: u64, refund: u64) {
        event::emit(OrderSettled { order_id, from_state, refund });
    }

    public(package) fun withdrawn(account: address, amount: u64) {
        event::emit(Withdrawn { account, amount });
    }

    public(package) fun admin_changed(old_admin: address, new_admin: address) {
        event::emit(AdminChanged { old_admin, new_admin });
    }

    public(package) fun fee_changed(bps: u64) {
        event::emit(FeeChanged { bps });
    }

    public(package) fun validator_added(validator: address) {
        event::emit(ValidatorAdded { validator });
    }

    public(package) fun validator_removed(validator: address) {
        event::emit(ValidatorRemoved { validator });
    }

    public(package) fun quorum_changed(quorum: u64) {
        event::emit(QuorumChanged { quorum });
    }

    public(package) fun contribution_registered(
        contribution_id: u64, contributor: address, model_root: vector<u8>, parent_root: vector<u8>, epoch: u64
    ) {
        event::emit(ContributionRegistered { contribution_id, contributor, model_root, parent_root, epoch });
    }

    public(package) fun score_committed(contribution_id: u64, validator: address, commitment: vector<u8>) {
        event::emit(ScoreCommitted { contribution_id, validator, commitment });
    }

    public(package) fun score_revealed(contribution_id: u64, validator: address, score: u64) {
        event::emit(ScoreRevealed { contribution_id, validator, score });
    }

    public(package) fun score_finalized(contribution_id: u64, score: u64, epoch: u64) {
        event::emit(ScoreFinalized { contribution_id, score, epoch });
    }

    public(package) fun epoch_closed(epoch: u64, pool: u64, total_score: u64) {
        event::emit(EpochClosed { epoch, pool, total_score });
    }

    public(package) fun reward_claimed(contribution_id: u64, contributor: address, amount: u64) {
        event::emit(RewardClaimed { contribution_id, contributor, amount });
    }
}
