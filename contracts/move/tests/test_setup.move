#[test_only]
/// Shared fixtures of the market unit tests: a started clock, funded accounts, a published market
/// with one registered relay, and the default order every lifecycle test starts from.
module agihub::test_setup {
    use std::signer;
    use std::string;
    use aptos_framework::account;
    use aptos_framework::aptos_account;
    use aptos_framework::aptos_coin::{Self, AptosCoin};
    use aptos_framework::coin;
    use aptos_framework::timestamp;
    use agihub::market;

    /// Clock at setup (Unix seconds).
    const START: u64 = 1_000_000;
    /// Coins minted to the buyer.
    const FUNDS: u64 = 1_000_000;
    const DOWN: u64 = 100;
    const COST: u64 = 1_000;
    const TIP: u64 = 50;
    const TAKE_WINDOW: u64 = 3_600;
    const ACK_WINDOW: u64 = 7_200;
    const REVEAL_WINDOW: u64 = 1_800;
    const EPOCH_LENGTH: u64 = 604_800;

    public fun start(): u64 { START }
    public fun funds(): u64 { FUNDS }
    public fun down(): u64 { DOWN }
    public fun cost(): u64 { COST }
    public fun tip(): u64 { TIP }
    public fun take_window(): u64 { TAKE_WINDOW }
    public fun ack_window(): u64 { ACK_WINDOW }
    public fun reveal_window(): u64 { REVEAL_WINDOW }
    public fun epoch_length(): u64 { EPOCH_LENGTH }

    public fun pubkey(): vector<u8> { x"1111111111111111111111111111111111111111111111111111111111111111" }
    public fun model_root(): vector<u8> { x"2222222222222222222222222222222222222222222222222222222222222222" }
    public fun key(): vector<u8> { x"3333333333333333333333333333333333333333333333333333333333333333" }
    public fun salt(): vector<u8> { x"4444444444444444444444444444444444444444444444444444444444444444" }
    public fun delivery_root(): vector<u8> { x"5555555555555555555555555555555555555555555555555555555555555555" }
    public fun parent_root(): vector<u8> { x"6666666666666666666666666666666666666666666666666666666666666666" }
    public fun endpoint(): string::String { string::utf8(b"wss://relay.example/agihub") }

    /// Starts the clock at START, funds `buyer` with FUNDS AptosCoin, publishes the market and
    /// registers `relay`.
    public fun setup(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        timestamp::set_time_has_started_for_testing(framework);
        timestamp::update_global_time_for_test_secs(START);
        let (burn_cap, mint_cap) = aptos_coin::initialize_for_test(framework);
        let buyer_addr = signer::address_of(buyer);
        account::create_account_for_test(buyer_addr);
        aptos_account::deposit_coins(buyer_addr, coin::mint(FUNDS, &mint_cap));
        account::create_account_for_test(signer::address_of(relay));
        coin::destroy_burn_cap(burn_cap);
        coin::destroy_mint_cap(mint_cap);
        market::init_for_test(publisher);
        market::register_relay(relay, pubkey(), endpoint());
    }

    /// Registers another relay (for multi-relay orders).
    public fun add_relay(relay: &signer) {
        account::create_account_for_test(signer::address_of(relay));
        market::register_relay(relay, pubkey(), endpoint());
    }

    /// Opens the default order (id 1 when first) listing only `relay`.
    public fun pull_default(buyer: &signer, relay: &signer) {
        market::pull<AptosCoin>(
            buyer, model_root(), vector[signer::address_of(relay)], DOWN, COST, TIP,
            TAKE_WINDOW, ACK_WINDOW, REVEAL_WINDOW
        );
    }

    /// The key commitment `relay` publishes for `order_id`.
    public fun commit_for(relay: &signer, order_id: u64): vector<u8> {
        market::key_commitment(key(), salt(), order_id, signer::address_of(relay))
    }

    public fun take_default(relay: &signer, order_id: u64) {
        market::take_order<AptosCoin>(relay, order_id, commit_for(relay, order_id));
    }

    public fun confirm_default(buyer: &signer, order_id: u64) {
        market::confirm_received<AptosCoin>(buyer, order_id, delivery_root());
    }

    public fun reveal_default(relay: &signer, order_id: u64) {
        market::reveal_key<AptosCoin>(relay, order_id, key(), salt());
    }

    /// Pull + take + confirm of the default order: it ends ACKED.
    public fun acked_order(buyer: &signer, relay: &signer) {
        pull_default(buyer, relay);
        take_default(relay, 1);
        confirm_default(buyer, 1);
    }

    public fun state_of(order_id: u64): u8 {
        let (state, _, _, _, _, _, _, _, _, _, _, _, _, _, _) = market::get_order<AptosCoin>(order_id);
        state
    }

    /// (down, cost, tip) of a live order.
    public fun amounts_of(order_id: u64): (u64, u64, u64) {
        let (_, _, _, _, _, _, _, down, cost, tip, _, _, _, _, _) = market::get_order<AptosCoin>(order_id);
        (down, cost, tip)
    }

    public fun credits_of(account: &signer): u64 {
        market::credits<AptosCoin>(signer::address_of(account))
    }

    public fun balance_of(account: &signer): u64 {
        coin::balance<AptosCoin>(signer::address_of(account))
    }

    /// Makes `validator` a validator (called by the admin `publisher`).
    public fun add_validator(publisher: &signer, validator: &signer) {
        account::create_account_for_test(signer::address_of(validator));
        market::add_validator(publisher, signer::address_of(validator));
    }

    /// Commits and reveals `score` for `contribution_id` as `validator`.
    public fun score(validator: &signer, contribution_id: u64, score: u64) {
        let addr = signer::address_of(validator);
        let commitment = market::score_commitment(score, salt(), contribution_id, addr);
        market::commit_score<AptosCoin>(validator, contribution_id, commitment);
        market::reveal_score<AptosCoin>(validator, contribution_id, score, salt());
    }
}
