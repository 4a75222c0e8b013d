/// The agihub market: a relay registry, pay-per-download order escrow, and the Proof-of-Work-of-
/// Compression reward pool, generic over the coin that pays (`CoinType`, for example AptosCoin).
///
/// Layout
/// - `Config` (at `@agihub`, non-generic): admin, fee, validators, quorum, the relay registry and the
///   global order-id counter. It also keeps the `ExtendRef` of the vault object.
/// - `Market<CoinType>` (at the vault object's address, one per coin, created on first use): the
///   escrowed coins, orders, credits, reward pool, epochs and contributions for that coin. Coins sit
///   inside the resource, so only this module's code can move them.
///
/// Protocol (identical to contracts/evm/market.vy; prose in contracts/README.md and DESIGN.md):
/// OPEN --take_order--> TAKEN --confirm_received--> ACKED --reveal_key--> COMPLETED;
/// OPEN --cancel--> CANCELLED; any live state --settle (deadline passed)--> EXPIRED.
/// All payouts are pull payments: credits are raised here and paid by `withdraw`.
///
/// Checks run in the same order as in the Vyper port, so both chains name the same error for the
/// same call: the order exists; for the buyer's calls the caller is the buyer; the state allows the
/// call (terminal orders keep their state and buyer); then deadline, relay/taker and argument checks.
module agihub::market {
    use std::bcs;
    use std::error;
    use std::signer;
    use std::string::{Self, String};
    use std::vector;
    use aptos_std::aptos_hash;
    use aptos_std::table::{Self, Table};
    use aptos_framework::aptos_account;
    use aptos_framework::coin::{Self, Coin};
    use aptos_framework::object::{Self, ExtendRef};
    use aptos_framework::timestamp;
    use agihub::events;

    // ---------------------------------------------------------------- errors (catalogue order)

    /// An amount is zero where it must not be (`cost`, or the sum of a raise).
    const E_ZERO_AMOUNT: u64 = 1;
    /// `pull` was given an empty relay list.
    const E_NO_RELAYS: u64 = 2;
    /// `pull` was given more than MAX_RELAYS relays.
    const E_TOO_MANY_RELAYS: u64 = 3;
    /// The relay list names the same relay twice.
    const E_DUPLICATE_RELAY: u64 = 4;
    /// The relay is not (or no longer) in the registry.
    const E_RELAY_NOT_REGISTERED: u64 = 5;
    /// The caller is already a registered relay.
    const E_ALREADY_REGISTERED: u64 = 6;
    /// The Nostr public key is not 32 bytes or is all zero.
    const E_BAD_PUBKEY: u64 = 7;
    /// The endpoint is empty or longer than 256 bytes.
    const E_BAD_ENDPOINT: u64 = 8;
    /// A window is zero or longer than MAX_WINDOW (30 days).
    const E_BAD_WINDOW: u64 = 9;
    /// EVM only (msg.value differs from the amounts); never raised on Aptos, kept for code parity.
    const E_BAD_VALUE: u64 = 10;
    /// No such order for this coin type.
    const E_UNKNOWN_ORDER: u64 = 11;
    /// Only the order's buyer may do this.
    const E_NOT_BUYER: u64 = 12;
    /// The caller is not one of the order's relays.
    const E_NOT_LISTED_RELAY: u64 = 13;
    /// Only the relay that took the order may do this.
    const E_NOT_TAKER: u64 = 14;
    /// The order's state does not allow this call (including every terminal state).
    const E_WRONG_STATE: u64 = 15;
    /// The deadline for this step has passed.
    const E_DEADLINE_PASSED: u64 = 16;
    /// `settle` was called before the current deadline passed.
    const E_NOT_DUE: u64 = 17;
    /// The revealed key/salt (or score/salt) do not match the commitment, or are not 32 bytes.
    const E_BAD_REVEAL: u64 = 18;
    /// An amount or score total would not fit in a u64.
    const E_OVERFLOW: u64 = 19;
    /// Only the admin may do this.
    const E_NOT_ADMIN: u64 = 20;
    /// Only the pending admin may accept the role.
    const E_NOT_PENDING_ADMIN: u64 = 21;
    /// The fee exceeds FEE_CAP_BPS.
    const E_FEE_TOO_HIGH: u64 = 22;
    /// The quorum must be at least 1.
    const E_BAD_QUORUM: u64 = 23;
    /// The account is not a validator.
    const E_NOT_VALIDATOR: u64 = 24;
    /// The account is already a validator.
    const E_ALREADY_VALIDATOR: u64 = 25;
    /// No such contribution for this coin type.
    const E_UNKNOWN_CONTRIBUTION: u64 = 26;
    /// This validator already committed a score for this contribution.
    const E_ALREADY_COMMITTED: u64 = 27;
    /// This validator has no commitment for this contribution.
    const E_NO_COMMIT: u64 = 28;
    /// This validator already revealed its score for this contribution.
    const E_ALREADY_REVEALED: u64 = 29;
    /// The contribution's epoch is closed; scores can no longer be committed or revealed.
    const E_EPOCH_CLOSED: u64 = 30;
    /// `close_epoch` was called before the epoch length elapsed.
    const E_EPOCH_NOT_OVER: u64 = 31;
    /// The contribution's epoch is still open; rewards are claimable once it closes.
    const E_EPOCH_OPEN: u64 = 32;
    /// The contribution's score has not reached quorum.
    const E_NOT_FINAL: u64 = 33;
    /// The reward for this contribution was already claimed.
    const E_ALREADY_CLAIMED: u64 = 34;
    /// Only the contributor may claim its reward.
    const E_NOT_CONTRIBUTOR: u64 = 35;
    /// The caller has no credits to withdraw.
    const E_NOTHING_TO_WITHDRAW: u64 = 36;
    /// A hash argument (root, commitment) is not exactly 32 bytes. Aptos only: the EVM ABI type
    /// `bytes32` already enforces the length, so the Vyper port never raises it.
    const E_BAD_LENGTH: u64 = 37;

    // ---------------------------------------------------------------- protocol constants

    /// Most relays one order may list.
    const MAX_RELAYS: u64 = 8;
    /// Highest fee the admin may set (10%).
    const FEE_CAP_BPS: u64 = 1000;
    const BPS_DENOMINATOR: u64 = 10000;
    /// Longest take/ack/reveal window: 30 days.
    const MAX_WINDOW: u64 = 2592000;
    const MAX_ENDPOINT_BYTES: u64 = 256;
    /// Length of a reward epoch; the EVM port takes it as a constructor argument, Aptos fixes it
    /// because `init_module` takes no arguments.
    const EPOCH_LENGTH_S: u64 = 604800;
    const MAX_U64: u128 = 18446744073709551615;
    const HASH_BYTES: u64 = 32;
    const ZERO_32: vector<u8> = x"0000000000000000000000000000000000000000000000000000000000000000";
    /// Seed of the named object that holds every `Market<CoinType>`.
    const VAULT_SEED: vector<u8> = b"agihub::market::vault";

    const STATE_NONE: u8 = 0;
    const STATE_OPEN: u8 = 1;
    const STATE_TAKEN: u8 = 2;
    const STATE_ACKED: u8 = 3;
    const STATE_COMPLETED: u8 = 4;
    const STATE_CANCELLED: u8 = 5;
    const STATE_EXPIRED: u8 = 6;

    // ---------------------------------------------------------------- resources

    /// Coin-independent settings and the relay registry, stored at `@agihub`.
    struct Config has key {
        /// Account allowed to change fee, validators and quorum.
        admin: address,
        /// Account named by `transfer_admin`, `@0x0` when none.
        pending_admin: address,
        /// Protocol fee on `cost + tip`, in basis points.
        fee_bps: u64,
        /// Matching reveals needed to finalize a score.
        quorum: u64,
        /// Id the next order gets; global across coin types so ids never collide.
        next_order_id: u64,
        /// Lets the module sign for the vault object to create `Market<CoinType>` there.
        vault_ref: ExtendRef,
        /// Registered relays by operator account.
        relays: Table<address, RelayInfo>,
        /// Score validators (value unused; presence is membership).
        validators: Table<address, bool>,
    }

    /// A registered relay.
    struct RelayInfo has copy, drop, store {
        /// Nostr public key, 32 bytes, never all zero.
        nostr_pubkey: vector<u8>,
        /// Endpoint URL, 1..256 bytes.
        endpoint: String,
    }

    /// Everything paid in one coin type; stored at the vault object's address.
    struct Market<phantom CoinType> has key {
        /// Escrow of live orders + unclaimed credits + reward pool + closed epochs' unclaimed pools.
        vault: Coin<CoinType>,
        /// Live orders (OPEN, TAKEN, ACKED).
        orders: Table<u64, Order>,
        /// What remains of terminal orders; the order body is deleted to free storage.
        finished: Table<u64, Finished>,
        /// Pull-payment balances.
        credits: Table<address, u64>,
        /// Fees collected in the current epoch (plus pools rolled over from score-less epochs).
        reward_pool: u64,
        /// Number of the current epoch, from 1.
        epoch: u64,
        /// Unix time the current epoch started.
        epoch_start: u64,
        /// Sum of the scores finalized in the current epoch.
        epoch_score: u64,
        /// Pool and total score of each closed epoch.
        closed_epochs: Table<u64, EpochResult>,
        /// Id the next contribution gets.
        next_contribution_id: u64,
        /// Contributions by id.
        contributions: Table<u64, Contribution>,
        /// Score commitments by (contribution, validator).
        commits: Table<CommitKey, ScoreCommit>,
        /// Number of validators that revealed a given score for a contribution.
        tallies: Table<TallyKey, u64>,
    }

    /// A live order.
    struct Order has drop, store {
        /// The buyer, refunded on cancel/expiry.
        buyer: address,
        /// Model package root (32 bytes).
        model_root: vector<u8>,
        /// Relays allowed to take it (at most MAX_RELAYS, so scans are bounded).
        relays: vector<address>,
        /// The relay that took it, `@0x0` while OPEN.
        taker: address,
        /// The taker's key commitment, empty while OPEN.
        key_commit: vector<u8>,
        /// Root of what the buyer received, empty until ACKED.
        delivery_root: vector<u8>,
        /// Down payment (paid to the taker at take).
        down: u64,
        /// Price (paid to the taker at reveal, minus the fee).
        cost: u64,
        /// Tip (paid with the price).
        tip: u64,
        /// OPEN, TAKEN or ACKED.
        state: u8,
        /// Last second a relay may take the order.
        take_deadline: u64,
        /// Seconds for the buyer's confirmation after the take.
        ack_window: u64,
        /// Seconds for the key reveal after the confirmation.
        reveal_window: u64,
        /// Last second the buyer may confirm, 0 while OPEN.
        ack_deadline: u64,
        /// Last second the taker may reveal, 0 until ACKED.
        reveal_deadline: u64,
    }

    /// The part of a terminal order kept for `get_order`.
    struct Finished has copy, drop, store {
        /// COMPLETED, CANCELLED or EXPIRED.
        state: u8,
        /// The buyer, so clients can still list a buyer's past orders.
        buyer: address,
    }

    /// The split of a closed epoch.
    struct EpochResult has copy, drop, store {
        /// Coins assigned to the epoch's contributors.
        pool: u64,
        /// Sum of the epoch's final scores.
        total_score: u64,
    }

    /// A registered contribution and its scoring progress.
    struct Contribution has copy, drop, store {
        /// Account credited by `claim_reward`.
        contributor: address,
        /// Contributed model root (32 bytes).
        model_root: vector<u8>,
        /// Root of the model it improves (32 bytes).
        parent_root: vector<u8>,
        /// Epoch it is scored in.
        epoch: u64,
        /// True once `quorum` validators revealed the same score.
        finalized: bool,
        /// The final score (0 until finalized).
        score: u64,
        /// True once the reward was credited.
        claimed: bool,
    }

    /// Key of `Market.commits`.
    struct CommitKey has copy, drop, store {
        /// The contribution.
        contribution_id: u64,
        /// The validator.
        validator: address,
    }

    /// One validator's commitment.
    struct ScoreCommit has drop, store {
        /// keccak256(score ‖ salt ‖ contribution_id ‖ validator), see `score_commitment`.
        commitment: vector<u8>,
        /// True once revealed.
        revealed: bool,
    }

    /// Key of `Market.tallies`.
    struct TallyKey has copy, drop, store {
        /// The contribution.
        contribution_id: u64,
        /// A revealed score.
        score: u64,
    }

    // ---------------------------------------------------------------- deployment

    /// Runs once at publish: the publisher becomes admin, and the vault object is created.
    fun init_module(publisher: &signer) {
        let constructor = object::create_named_object(publisher, VAULT_SEED);
        move_to(publisher, Config {
            admin: signer::address_of(publisher),
            pending_admin: @0x0,
            fee_bps: 0,
            quorum: 1,
            next_order_id: 1,
            vault_ref: object::generate_extend_ref(&constructor),
            relays: table::new(),
            validators: table::new(),
        });
    }

    #[test_only]
    /// Lets unit tests run `init_module` (the VM runs it on publish).
    public fun init_for_test(publisher: &signer) {
        init_module(publisher);
    }

    // ---------------------------------------------------------------- relay registry

    /// Registers the caller as a relay reachable at `endpoint` under Nostr key `nostr_pubkey`.
    public entry fun register_relay(relay: &signer, nostr_pubkey: vector<u8>, endpoint: String) acquires Config {
        let config = borrow_global_mut<Config>(@agihub);
        let addr = signer::address_of(relay);
        assert!(!table::contains(&config.relays, addr), error::already_exists(E_ALREADY_REGISTERED));
        check_relay_info(&nostr_pubkey, &endpoint);
        table::add(&mut config.relays, addr, RelayInfo { nostr_pubkey, endpoint });
        events::relay_registered(addr, nostr_pubkey, endpoint);
    }

    /// Replaces the caller's Nostr key and endpoint.
    public entry fun update_relay(relay: &signer, nostr_pubkey: vector<u8>, endpoint: String) acquires Config {
        let config = borrow_global_mut<Config>(@agihub);
        let addr = signer::address_of(relay);
        assert!(table::contains(&config.relays, addr), error::not_found(E_RELAY_NOT_REGISTERED));
        check_relay_info(&nostr_pubkey, &endpoint);
        *table::borrow_mut(&mut config.relays, addr) = RelayInfo { nostr_pubkey, endpoint };
        events::relay_updated(addr, nostr_pubkey, endpoint);
    }

    /// Removes the caller from the registry; it can no longer take orders (running ones still finish).
    public entry fun deregister_relay(relay: &signer) acquires Config {
        let config = borrow_global_mut<Config>(@agihub);
        let addr = signer::address_of(relay);
        assert!(table::contains(&config.relays, addr), error::not_found(E_RELAY_NOT_REGISTERED));
        table::remove(&mut config.relays, addr);
        events::relay_deregistered(addr);
    }

    fun check_relay_info(nostr_pubkey: &vector<u8>, endpoint: &String) {
        assert!(
            vector::length(nostr_pubkey) == HASH_BYTES && *nostr_pubkey != ZERO_32,
            error::invalid_argument(E_BAD_PUBKEY)
        );
        let len = string::length(endpoint);
        assert!(len > 0 && len <= MAX_ENDPOINT_BYTES, error::invalid_argument(E_BAD_ENDPOINT));
    }

    // ---------------------------------------------------------------- orders: entry points

    /// Opens an order for `model_root` that any of `relays` may take, escrowing `down + cost + tip`.
    public entry fun pull<CoinType>(
        buyer: &signer,
        model_root: vector<u8>,
        relays: vector<address>,
        down: u64,
        cost: u64,
        tip: u64,
        take_window_s: u64,
        ack_window_s: u64,
        reveal_window_s: u64,
    ) acquires Config, Market {
        let config = borrow_global_mut<Config>(@agihub);
        check_relay_list(config, &relays);
        assert!(cost > 0, error::invalid_argument(E_ZERO_AMOUNT));
        let total = checked_sum(down, cost, tip);
        check_window(take_window_s);
        check_window(ack_window_s);
        check_window(reveal_window_s);
        check_hash(&model_root);
        let order_id = config.next_order_id;
        config.next_order_id = order_id + 1;
        ensure_market<CoinType>(config);
        let market = borrow_global_mut<Market<CoinType>>(vault_address());
        coin::merge(&mut market.vault, coin::withdraw<CoinType>(buyer, total));
        let take_deadline = timestamp::now_seconds() + take_window_s;
        let buyer_addr = signer::address_of(buyer);
        table::add(&mut market.orders, order_id, Order {
            buyer: buyer_addr, model_root, relays, taker: @0x0, key_commit: vector[], delivery_root: vector[],
            down, cost, tip, state: STATE_OPEN, take_deadline, ack_window: ack_window_s,
            reveal_window: reveal_window_s, ack_deadline: 0, reveal_deadline: 0,
        });
        events::order_pulled(
            order_id, buyer_addr, model_root, relays, down, cost, tip, take_deadline, ack_window_s, reveal_window_s
        );
    }

    /// Adds to an order's amounts: any of them while OPEN, only the tip once TAKEN.
    public entry fun raise_payment<CoinType>(
        buyer: &signer, order_id: u64, down: u64, cost: u64, tip: u64
    ) acquires Market {
        let market = market_with_order<CoinType>(order_id);
        let (buyer_addr, state) = buyer_and_state(market, order_id);
        assert!(signer::address_of(buyer) == buyer_addr, error::permission_denied(E_NOT_BUYER));
        // Once taken, the relay has been paid `down` and priced `cost`; only the tip may grow.
        assert!(
            state == STATE_OPEN || (state == STATE_TAKEN && down == 0 && cost == 0),
            error::invalid_state(E_WRONG_STATE)
        );
        let order = table::borrow_mut(&mut market.orders, order_id);
        let added = checked_sum(down, cost, tip);
        assert!(added > 0, error::invalid_argument(E_ZERO_AMOUNT));
        let new_down = checked_add(order.down, down);
        let new_cost = checked_add(order.cost, cost);
        let new_tip = checked_add(order.tip, tip);
        // The refund D + C + T must stay representable.
        checked_sum(new_down, new_cost, new_tip);
        order.down = new_down;
        order.cost = new_cost;
        order.tip = new_tip;
        coin::merge(&mut market.vault, coin::withdraw<CoinType>(buyer, added));
        events::payment_raised(order_id, down, cost, tip, new_down, new_cost, new_tip);
    }

    /// The buyer withdraws an order nobody took yet; everything escrowed is credited back.
    public entry fun cancel<CoinType>(buyer: &signer, order_id: u64) acquires Market {
        let market = market_with_order<CoinType>(order_id);
        check_buyer_and_state(market, order_id, buyer, STATE_OPEN);
        let order = table::borrow(&market.orders, order_id);
        let refund = order.down + order.cost + order.tip;
        let buyer_addr = order.buyer;
        finish(market, order_id, STATE_CANCELLED);
        credit(market, buyer_addr, refund);
        events::order_cancelled(order_id, refund);
    }

    /// A listed, registered relay takes an open order, commits to the key and is credited `down`.
    public entry fun take_order<CoinType>(relay: &signer, order_id: u64, key_commit: vector<u8>) acquires Config, Market {
        let market = market_with_order<CoinType>(order_id);
        check_state(market, order_id, STATE_OPEN);
        let order = table::borrow_mut(&mut market.orders, order_id);
        let now = timestamp::now_seconds();
        assert!(now <= order.take_deadline, error::invalid_state(E_DEADLINE_PASSED));
        let relay_addr = signer::address_of(relay);
        assert!(vector::contains(&order.relays, &relay_addr), error::permission_denied(E_NOT_LISTED_RELAY));
        let config = borrow_global<Config>(@agihub);
        assert!(table::contains(&config.relays, relay_addr), error::not_found(E_RELAY_NOT_REGISTERED));
        check_hash(&key_commit);
        order.state = STATE_TAKEN;
        order.taker = relay_addr;
        order.key_commit = key_commit;
        order.ack_deadline = now + order.ack_window;
        let down_paid = order.down;
        let ack_deadline = order.ack_deadline;
        credit(market, relay_addr, down_paid);
        events::order_taken(order_id, relay_addr, key_commit, ack_deadline, down_paid);
    }

    /// The buyer confirms the ciphertext with root `delivery_root` arrived; the reveal clock starts.
    public entry fun confirm_received<CoinType>(
        buyer: &signer, order_id: u64, delivery_root: vector<u8>
    ) acquires Market {
        let market = market_with_order<CoinType>(order_id);
        check_buyer_and_state(market, order_id, buyer, STATE_TAKEN);
        let order = table::borrow_mut(&mut market.orders, order_id);
        let now = timestamp::now_seconds();
        assert!(now <= order.ack_deadline, error::invalid_state(E_DEADLINE_PASSED));
        check_hash(&delivery_root);
        order.state = STATE_ACKED;
        order.delivery_root = delivery_root;
        order.reveal_deadline = now + order.reveal_window;
        events::order_confirmed(order_id, delivery_root, order.reveal_deadline);
    }

    /// The taker reveals the key matching its commitment and is credited `cost + tip - fee`.
    public entry fun reveal_key<CoinType>(
        relay: &signer, order_id: u64, key: vector<u8>, salt: vector<u8>
    ) acquires Config, Market {
        let market = market_with_order<CoinType>(order_id);
        check_state(market, order_id, STATE_ACKED);
        let order = table::borrow(&market.orders, order_id);
        let relay_addr = signer::address_of(relay);
        assert!(relay_addr == order.taker, error::permission_denied(E_NOT_TAKER));
        assert!(timestamp::now_seconds() <= order.reveal_deadline, error::invalid_state(E_DEADLINE_PASSED));
        // Length checks first: 31 + 33 bytes would hash like 32 + 32 and forge a match.
        assert!(
            vector::length(&key) == HASH_BYTES && vector::length(&salt) == HASH_BYTES
                && key_commitment(key, salt, order_id, relay_addr) == order.key_commit,
            error::invalid_argument(E_BAD_REVEAL)
        );
        let paid = order.cost + order.tip;
        let fee = fee_of(paid, borrow_global<Config>(@agihub).fee_bps);
        market.reward_pool = checked_add(market.reward_pool, fee);
        finish(market, order_id, STATE_COMPLETED);
        credit(market, relay_addr, paid - fee);
        events::key_revealed(order_id, relay_addr, key, salt, paid - fee, fee);
    }

    /// Anyone expires an order whose current deadline passed and credits the buyer its refund.
    public entry fun settle<CoinType>(order_id: u64) acquires Market {
        let market = market_with_order<CoinType>(order_id);
        let (_, from_state) = buyer_and_state(market, order_id);
        assert!(from_state >= STATE_OPEN && from_state <= STATE_ACKED, error::invalid_state(E_WRONG_STATE));
        let order = table::borrow(&market.orders, order_id);
        let now = timestamp::now_seconds();
        let deadline = if (from_state == STATE_OPEN) order.take_deadline
            else if (from_state == STATE_TAKEN) order.ack_deadline
            else order.reveal_deadline;
        assert!(now > deadline, error::invalid_state(E_NOT_DUE));
        // After a take the relay keeps `down`; only cost + tip go back.
        let refund = order.cost + order.tip;
        if (from_state == STATE_OPEN) refund = refund + order.down;
        let buyer_addr = order.buyer;
        finish(market, order_id, STATE_EXPIRED);
        credit(market, buyer_addr, refund);
        events::order_settled(order_id, (from_state as u64), refund);
    }

    /// Pays the caller all its credits in `CoinType`.
    public entry fun withdraw<CoinType>(account: &signer) acquires Market {
        let addr = signer::address_of(account);
        let vault_addr = vault_address();
        assert!(exists<Market<CoinType>>(vault_addr), error::not_found(E_NOTHING_TO_WITHDRAW));
        let market = borrow_global_mut<Market<CoinType>>(vault_addr);
        assert!(table::contains(&market.credits, addr), error::not_found(E_NOTHING_TO_WITHDRAW));
        // Entries are removed when paid, so a present entry is always > 0.
        let amount = table::remove(&mut market.credits, addr);
        aptos_account::deposit_coins(addr, coin::extract(&mut market.vault, amount));
        events::withdrawn(addr, amount);
    }

    // ---------------------------------------------------------------- orders: helpers

    fun check_relay_list(config: &Config, relays: &vector<address>) {
        let n = vector::length(relays);
        assert!(n > 0, error::invalid_argument(E_NO_RELAYS));
        assert!(n <= MAX_RELAYS, error::invalid_argument(E_TOO_MANY_RELAYS));
        let i = 0;
        // Bounded by MAX_RELAYS (n^2 <= 64 comparisons).
        while (i < n) {
            let relay = *vector::borrow(relays, i);
            assert!(table::contains(&config.relays, relay), error::not_found(E_RELAY_NOT_REGISTERED));
            let j = i + 1;
            while (j < n) {
                assert!(*vector::borrow(relays, j) != relay, error::invalid_argument(E_DUPLICATE_RELAY));
                j = j + 1;
            };
            i = i + 1;
        };
    }

    fun check_window(window_s: u64) {
        assert!(window_s > 0 && window_s <= MAX_WINDOW, error::invalid_argument(E_BAD_WINDOW));
    }

    fun check_hash(value: &vector<u8>) {
        assert!(vector::length(value) == HASH_BYTES, error::invalid_argument(E_BAD_LENGTH));
    }

    fun checked_add(a: u64, b: u64): u64 {
        let sum = (a as u128) + (b as u128);
        assert!(sum <= MAX_U64, error::out_of_range(E_OVERFLOW));
        (sum as u64)
    }

    fun checked_sum(a: u64, b: u64, c: u64): u64 {
        checked_add(checked_add(a, b), c)
    }

    fun fee_of(amount: u64, fee_bps: u64): u64 {
        (((amount as u128) * (fee_bps as u128) / (BPS_DENOMINATOR as u128)) as u64)
    }

    /// `Market<CoinType>` holding order `order_id` (live or terminal); E_UNKNOWN_ORDER otherwise.
    inline fun market_with_order<CoinType>(order_id: u64): &mut Market<CoinType> {
        let vault_addr = vault_address();
        assert!(exists<Market<CoinType>>(vault_addr), error::not_found(E_UNKNOWN_ORDER));
        let market = borrow_global_mut<Market<CoinType>>(vault_addr);
        assert!(
            table::contains(&market.orders, order_id) || table::contains(&market.finished, order_id),
            error::not_found(E_UNKNOWN_ORDER)
        );
        market
    }

    /// Buyer and state of an existing order, live or terminal.
    fun buyer_and_state<CoinType>(market: &Market<CoinType>, order_id: u64): (address, u8) {
        if (table::contains(&market.orders, order_id)) {
            let order = table::borrow(&market.orders, order_id);
            return (order.buyer, order.state)
        };
        let finished = table::borrow(&market.finished, order_id);
        (finished.buyer, finished.state)
    }

    /// Aborts unless `caller` is the order's buyer and the order is in `state`.
    fun check_buyer_and_state<CoinType>(market: &Market<CoinType>, order_id: u64, caller: &signer, state: u8) {
        let (buyer, current) = buyer_and_state(market, order_id);
        assert!(signer::address_of(caller) == buyer, error::permission_denied(E_NOT_BUYER));
        assert!(current == state, error::invalid_state(E_WRONG_STATE));
    }

    /// Aborts unless the order is in `state`.
    fun check_state<CoinType>(market: &Market<CoinType>, order_id: u64, state: u8) {
        let (_, current) = buyer_and_state(market, order_id);
        assert!(current == state, error::invalid_state(E_WRONG_STATE));
    }

    /// Frees the order body and remembers only its terminal state and buyer.
    fun finish<CoinType>(market: &mut Market<CoinType>, order_id: u64, state: u8) {
        let order = table::remove(&mut market.orders, order_id);
        table::add(&mut market.finished, order_id, Finished { state, buyer: order.buyer });
    }

    fun credit<CoinType>(market: &mut Market<CoinType>, account: address, amount: u64) {
        if (amount == 0) return;
        let balance = table::borrow_mut_with_default(&mut market.credits, account, 0);
        *balance = checked_add(*balance, amount);
    }

    fun ensure_market<CoinType>(config: &Config) {
        if (exists<Market<CoinType>>(vault_address())) return;
        let vault_signer = object::generate_signer_for_extending(&config.vault_ref);
        move_to(&vault_signer, Market<CoinType> {
            vault: coin::zero<CoinType>(),
            orders: table::new(),
            finished: table::new(),
            credits: table::new(),
            reward_pool: 0,
            epoch: 1,
            epoch_start: timestamp::now_seconds(),
            epoch_score: 0,
            closed_epochs: table::new(),
            next_contribution_id: 1,
            contributions: table::new(),
            commits: table::new(),
            tallies: table::new(),
        });
    }

    /// keccak256(key ‖ salt ‖ order_id as 32-byte big-endian ‖ relay as 32 bytes): the preimage the
    /// Vyper port hashes too, so one SDK helper commits for both chains.
    public fun key_commitment(key: vector<u8>, salt: vector<u8>, order_id: u64, relay: address): vector<u8> {
        let preimage = key;
        vector::append(&mut preimage, salt);
        vector::append(&mut preimage, u64_be32(order_id));
        // BCS of an address is its 32 raw bytes.
        vector::append(&mut preimage, bcs::to_bytes(&relay));
        aptos_hash::keccak256(preimage)
    }

    /// keccak256(score 32-byte BE ‖ salt ‖ contribution_id 32-byte BE ‖ validator 32 bytes).
    public fun score_commitment(score: u64, salt: vector<u8>, contribution_id: u64, validator: address): vector<u8> {
        let preimage = u64_be32(score);
        vector::append(&mut preimage, salt);
        vector::append(&mut preimage, u64_be32(contribution_id));
        vector::append(&mut preimage, bcs::to_bytes(&validator));
        aptos_hash::keccak256(preimage)
    }

    /// `value` as a 32-byte big-endian integer (the EVM uint256 word).
    fun u64_be32(value: u64): vector<u8> {
        // BCS encodes a u64 as 8 little-endian bytes; reverse them and left-pad with 24 zeros.
        let low = bcs::to_bytes(&value);
        vector::reverse(&mut low);
        let out = x"000000000000000000000000000000000000000000000000";
        vector::append(&mut out, low);
        out
    }

    // ---------------------------------------------------------------- administration

    /// Names `new_admin` as the pending admin; the role moves when it calls `accept_admin`.
    public entry fun transfer_admin(admin: &signer, new_admin: address) acquires Config {
        let config = admin_config(admin);
        config.pending_admin = new_admin;
    }

    /// The pending admin takes the role.
    public entry fun accept_admin(new_admin: &signer) acquires Config {
        let config = borrow_global_mut<Config>(@agihub);
        let addr = signer::address_of(new_admin);
        assert!(
            config.pending_admin != @0x0 && addr == config.pending_admin,
            error::permission_denied(E_NOT_PENDING_ADMIN)
        );
        let old_admin = config.admin;
        config.admin = addr;
        config.pending_admin = @0x0;
        events::admin_changed(old_admin, addr);
    }

    /// Sets the protocol fee on `cost + tip`, at most FEE_CAP_BPS.
    public entry fun set_fee(admin: &signer, bps: u64) acquires Config {
        let config = admin_config(admin);
        assert!(bps <= FEE_CAP_BPS, error::invalid_argument(E_FEE_TOO_HIGH));
        config.fee_bps = bps;
        events::fee_changed(bps);
    }

    /// Allows `validator` to commit and reveal scores.
    public entry fun add_validator(admin: &signer, validator: address) acquires Config {
        let config = admin_config(admin);
        assert!(!table::contains(&config.validators, validator), error::already_exists(E_ALREADY_VALIDATOR));
        table::add(&mut config.validators, validator, true);
        events::validator_added(validator);
    }

    /// Revokes `validator`; its unrevealed commitments can no longer be revealed.
    public entry fun remove_validator(admin: &signer, validator: address) acquires Config {
        let config = admin_config(admin);
        assert!(table::contains(&config.validators, validator), error::permission_denied(E_NOT_VALIDATOR));
        table::remove(&mut config.validators, validator);
        events::validator_removed(validator);
    }

    /// Sets how many identical reveals finalize a score.
    public entry fun set_quorum(admin: &signer, quorum: u64) acquires Config {
        let config = admin_config(admin);
        assert!(quorum >= 1, error::invalid_argument(E_BAD_QUORUM));
        config.quorum = quorum;
        events::quorum_changed(quorum);
    }

    inline fun admin_config(admin: &signer): &mut Config {
        let config = borrow_global_mut<Config>(@agihub);
        assert!(signer::address_of(admin) == config.admin, error::permission_denied(E_NOT_ADMIN));
        config
    }

    // ---------------------------------------------------------------- contributions and rewards

    /// Registers a model version for scoring in the current epoch of `Market<CoinType>`.
    public entry fun register_contribution<CoinType>(
        contributor: &signer, model_root: vector<u8>, parent_root: vector<u8>
    ) acquires Config, Market {
        check_hash(&model_root);
        check_hash(&parent_root);
        ensure_market<CoinType>(borrow_global<Config>(@agihub));
        let market = borrow_global_mut<Market<CoinType>>(vault_address());
        let contribution_id = market.next_contribution_id;
        market.next_contribution_id = contribution_id + 1;
        let addr = signer::address_of(contributor);
        let epoch = market.epoch;
        table::add(&mut market.contributions, contribution_id, Contribution {
            contributor: addr, model_root, parent_root, epoch, finalized: false, score: 0, claimed: false,
        });
        events::contribution_registered(contribution_id, addr, model_root, parent_root, epoch);
    }

    /// A validator commits to a score (see `score_commitment`) while the contribution's epoch is open.
    public entry fun commit_score<CoinType>(
        validator: &signer, contribution_id: u64, commitment: vector<u8>
    ) acquires Config, Market {
        let addr = validator_address(validator);
        let market = market_with_contribution<CoinType>(contribution_id);
        let contribution = table::borrow(&market.contributions, contribution_id);
        assert!(contribution.epoch == market.epoch, error::invalid_state(E_EPOCH_CLOSED));
        let key = CommitKey { contribution_id, validator: addr };
        assert!(!table::contains(&market.commits, key), error::already_exists(E_ALREADY_COMMITTED));
        check_hash(&commitment);
        table::add(&mut market.commits, key, ScoreCommit { commitment, revealed: false });
        events::score_committed(contribution_id, addr, commitment);
    }

    /// A validator reveals its committed score; `quorum` equal reveals make the score final.
    public entry fun reveal_score<CoinType>(
        validator: &signer, contribution_id: u64, score: u64, salt: vector<u8>
    ) acquires Config, Market {
        let addr = validator_address(validator);
        let quorum = borrow_global<Config>(@agihub).quorum;
        let market = market_with_contribution<CoinType>(contribution_id);
        // A score revealed after the close could not join the already split pool.
        assert!(
            table::borrow(&market.contributions, contribution_id).epoch == market.epoch,
            error::invalid_state(E_EPOCH_CLOSED)
        );
        let key = CommitKey { contribution_id, validator: addr };
        assert!(table::contains(&market.commits, key), error::not_found(E_NO_COMMIT));
        let commit = table::borrow_mut(&mut market.commits, key);
        assert!(!commit.revealed, error::already_exists(E_ALREADY_REVEALED));
        assert!(
            vector::length(&salt) == HASH_BYTES
                && score_commitment(score, salt, contribution_id, addr) == commit.commitment,
            error::invalid_argument(E_BAD_REVEAL)
        );
        commit.revealed = true;
        events::score_revealed(contribution_id, addr, score);
        let tally = table::borrow_mut_with_default(&mut market.tallies, TallyKey { contribution_id, score }, 0);
        *tally = *tally + 1;
        if (*tally >= quorum) finalize_score(market, contribution_id, score);
    }

    fun finalize_score<CoinType>(market: &mut Market<CoinType>, contribution_id: u64, score: u64) {
        let contribution = table::borrow_mut(&mut market.contributions, contribution_id);
        // Later matching reveals (or a lowered quorum) must not count the score twice.
        if (contribution.finalized) return;
        contribution.finalized = true;
        contribution.score = score;
        market.epoch_score = checked_add(market.epoch_score, score);
        events::score_finalized(contribution_id, score, contribution.epoch);
    }

    /// Closes the current epoch once its length elapsed: its pool is fixed and a new epoch starts.
    /// An epoch without final scores passes its pool on to the next one.
    public entry fun close_epoch<CoinType>() acquires Config, Market {
        ensure_market<CoinType>(borrow_global<Config>(@agihub));
        let market = borrow_global_mut<Market<CoinType>>(vault_address());
        let now = timestamp::now_seconds();
        assert!(now >= market.epoch_start + EPOCH_LENGTH_S, error::invalid_state(E_EPOCH_NOT_OVER));
        let total_score = market.epoch_score;
        let pool = if (total_score > 0) market.reward_pool else 0;
        market.reward_pool = market.reward_pool - pool;
        let epoch = market.epoch;
        table::add(&mut market.closed_epochs, epoch, EpochResult { pool, total_score });
        market.epoch = epoch + 1;
        market.epoch_start = now;
        market.epoch_score = 0;
        events::epoch_closed(epoch, pool, total_score);
    }

    /// Credits the contributor `pool * score / total_score` of its closed epoch.
    public entry fun claim_reward<CoinType>(contributor: &signer, contribution_id: u64) acquires Market {
        let market = market_with_contribution<CoinType>(contribution_id);
        let current_epoch = market.epoch;
        let contribution = table::borrow_mut(&mut market.contributions, contribution_id);
        let addr = signer::address_of(contributor);
        assert!(addr == contribution.contributor, error::permission_denied(E_NOT_CONTRIBUTOR));
        assert!(contribution.epoch < current_epoch, error::invalid_state(E_EPOCH_OPEN));
        assert!(contribution.finalized, error::invalid_state(E_NOT_FINAL));
        assert!(!contribution.claimed, error::already_exists(E_ALREADY_CLAIMED));
        contribution.claimed = true;
        let (epoch, score) = (contribution.epoch, contribution.score);
        let result = *table::borrow(&market.closed_epochs, epoch);
        let amount = reward_share(result.pool, score, result.total_score);
        credit(market, addr, amount);
        events::reward_claimed(contribution_id, addr, amount);
    }

    /// pool * score / total, rounded down (the dust stays in the vault); 0 for an empty epoch.
    fun reward_share(pool: u64, score: u64, total_score: u64): u64 {
        if (total_score == 0) return 0;
        (((pool as u128) * (score as u128) / (total_score as u128)) as u64)
    }

    fun validator_address(validator: &signer): address acquires Config {
        let addr = signer::address_of(validator);
        assert!(
            table::contains(&borrow_global<Config>(@agihub).validators, addr),
            error::permission_denied(E_NOT_VALIDATOR)
        );
        addr
    }

    inline fun market_with_contribution<CoinType>(contribution_id: u64): &mut Market<CoinType> {
        let vault_addr = vault_address();
        assert!(exists<Market<CoinType>>(vault_addr), error::not_found(E_UNKNOWN_CONTRIBUTION));
        let market = borrow_global_mut<Market<CoinType>>(vault_addr);
        assert!(
            table::contains(&market.contributions, contribution_id),
            error::not_found(E_UNKNOWN_CONTRIBUTION)
        );
        market
    }

    // ---------------------------------------------------------------- views

    #[view]
    /// Address of the object that holds every market's coins.
    public fun vault_address(): address {
        object::create_object_address(&@agihub, VAULT_SEED)
    }

    #[view]
    /// All fields of an order, in this order: state, buyer, model_root, relays, taker, key_commit,
    /// delivery_root, down, cost, tip, take_deadline, ack_window, reveal_window, ack_deadline,
    /// reveal_deadline. A terminal order reports only its state and buyer (other fields zero/empty);
    /// an unknown id reports state NONE.
    public fun get_order<CoinType>(order_id: u64): (
        u8, address, vector<u8>, vector<address>, address, vector<u8>, vector<u8>,
        u64, u64, u64, u64, u64, u64, u64, u64
    ) acquires Market {
        let vault_addr = vault_address();
        let state = STATE_NONE;
        let buyer = @0x0;
        if (exists<Market<CoinType>>(vault_addr)) {
            let market = borrow_global<Market<CoinType>>(vault_addr);
            if (table::contains(&market.orders, order_id)) {
                let o = table::borrow(&market.orders, order_id);
                return (
                    o.state, o.buyer, o.model_root, o.relays, o.taker, o.key_commit, o.delivery_root,
                    o.down, o.cost, o.tip, o.take_deadline, o.ack_window, o.reveal_window, o.ack_deadline,
                    o.reveal_deadline
                )
            };
            if (table::contains(&market.finished, order_id)) {
                let finished = *table::borrow(&market.finished, order_id);
                state = finished.state;
                buyer = finished.buyer;
            };
        };
        (state, buyer, vector[], vector[], @0x0, vector[], vector[], 0, 0, 0, 0, 0, 0, 0, 0)
    }

    #[view]
    /// (registered, nostr_pubkey, endpoint) of `relay`; empty values when not registered.
    public fun relay_info(relay: address): (bool, vector<u8>, String) acquires Config {
        let config = borrow_global<Config>(@agihub);
        if (!table::contains(&config.relays, relay)) return (false, vector[], string::utf8(b""));
        let info = table::borrow(&config.relays, relay);
        (true, info.nostr_pubkey, info.endpoint)
    }

    #[view]
    /// Withdrawable balance of `account` in `CoinType`.
    public fun credits<CoinType>(account: address): u64 acquires Market {
        let vault_addr = vault_address();
        if (!exists<Market<CoinType>>(vault_addr)) return 0;
        let credits = &borrow_global<Market<CoinType>>(vault_addr).credits;
        if (!table::contains(credits, account)) return 0;
        *table::borrow(credits, account)
    }

    #[view]
    /// Coins held for `CoinType`: escrow of live orders + unclaimed credits + reward pool + closed
    /// epochs' unclaimed pools (the accounting invariant tests check).
    public fun vault_balance<CoinType>(): u64 acquires Market {
        let vault_addr = vault_address();
        if (!exists<Market<CoinType>>(vault_addr)) return 0;
        coin::value(&borrow_global<Market<CoinType>>(vault_addr).vault)
    }

    #[view]
    /// Protocol fee in basis points.
    public fun fee_bps(): u64 acquires Config {
        borrow_global<Config>(@agihub).fee_bps
    }

    #[view]
    /// Fees collected for the current epoch of `CoinType`.
    public fun reward_pool<CoinType>(): u64 acquires Market {
        let vault_addr = vault_address();
        if (!exists<Market<CoinType>>(vault_addr)) return 0;
        borrow_global<Market<CoinType>>(vault_addr).reward_pool
    }

    #[view]
    /// (epoch, epoch_start, epoch_length, total_score) of the current epoch; epoch 0 before the
    /// market for `CoinType` exists.
    public fun current_epoch<CoinType>(): (u64, u64, u64, u64) acquires Market {
        let vault_addr = vault_address();
        if (!exists<Market<CoinType>>(vault_addr)) return (0, 0, EPOCH_LENGTH_S, 0);
        let market = borrow_global<Market<CoinType>>(vault_addr);
        (market.epoch, market.epoch_start, EPOCH_LENGTH_S, market.epoch_score)
    }

    #[view]
    /// (closed, pool, total_score) of `epoch`.
    public fun epoch_result<CoinType>(epoch: u64): (bool, u64, u64) acquires Market {
        let vault_addr = vault_address();
        if (!exists<Market<CoinType>>(vault_addr)) return (false, 0, 0);
        let market = borrow_global<Market<CoinType>>(vault_addr);
        if (!table::contains(&market.closed_epochs, epoch)) return (false, 0, 0);
        let result = table::borrow(&market.closed_epochs, epoch);
        (true, result.pool, result.total_score)
    }

    #[view]
    /// (contributor, model_root, parent_root, epoch, finalized, score, claimed); aborts
    /// E_UNKNOWN_CONTRIBUTION for an unknown id.
    public fun contribution<CoinType>(contribution_id: u64): (
        address, vector<u8>, vector<u8>, u64, bool, u64, bool
    ) acquires Market {
        let market = market_with_contribution<CoinType>(contribution_id);
        let c = *table::borrow(&market.contributions, contribution_id);
        (c.contributor, c.model_root, c.parent_root, c.epoch, c.finalized, c.score, c.claimed)
    }

    #[view]
    /// True when `account` may commit and reveal scores.
    public fun is_validator(account: address): bool acquires Config {
        table::contains(&borrow_global<Config>(@agihub).validators, account)
    }

    #[view]
    /// Identical reveals needed to finalize a score.
    public fun quorum(): u64 acquires Config {
        borrow_global<Config>(@agihub).quorum
    }

    #[view]
    /// The admin account.
    public fun admin(): address acquires Config {
        borrow_global<Config>(@agihub).admin
    }

    #[view]
    /// The pending admin, `@0x0` when none.
    public fun pending_admin(): address acquires Config {
        borrow_global<Config>(@agihub).pending_admin
    }

    #[view]
    /// The id the next order will get.
    public fun next_order_id(): u64 acquires Config {
        borrow_global<Config>(@agihub).next_order_id
    }

    // ---------------------------------------------------------------- specifications

    spec module {
        // Partial: coin and table internals are not modelled here; the invariants below are the
        // ones the rest of the protocol relies on.
        pragma aborts_if_is_partial;
    }

    spec Config {
        /// The fee can never exceed the cap, whatever admin calls happened.
        invariant fee_bps <= FEE_CAP_BPS;
        /// A score always needs at least one reveal.
        invariant quorum >= 1;
        /// Order ids start at 1 and are never reused.
        invariant next_order_id >= 1;
    }

    spec Market {
        /// Epochs and contribution ids count from 1.
        invariant epoch >= 1;
        invariant next_contribution_id >= 1;
    }

    spec set_fee {
        aborts_if !exists<Config>(@agihub);
        aborts_if signer::address_of(admin) != global<Config>(@agihub).admin;
        aborts_if bps > FEE_CAP_BPS;
        ensures global<Config>(@agihub).fee_bps == bps;
    }

    spec set_quorum {
        aborts_if !exists<Config>(@agihub);
        aborts_if signer::address_of(admin) != global<Config>(@agihub).admin;
        aborts_if quorum < 1;
        ensures global<Config>(@agihub).quorum == quorum;
    }

    spec check_window {
        aborts_if window_s == 0 || window_s > MAX_WINDOW;
    }

    spec check_hash {
        /// Every stored root and commitment is exactly 32 bytes.
        aborts_if len(value) != HASH_BYTES;
    }

    spec checked_add {
        aborts_if a + b > MAX_U64;
        ensures result == a + b;
    }

    spec fee_of {
        aborts_if amount * fee_bps / BPS_DENOMINATOR > MAX_U64;
        /// The fee never exceeds the amount it is taken from (fee_bps <= FEE_CAP_BPS < 10000).
        ensures fee_bps <= BPS_DENOMINATOR ==> result <= amount;
    }

    spec reward_share {
        aborts_if total_score > 0 && pool * score / total_score > MAX_U64;
        /// A share never exceeds the pool, so claims cannot drain other funds.
        ensures score <= total_score ==> result <= pool;
    }
}
