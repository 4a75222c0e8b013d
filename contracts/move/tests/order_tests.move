#[test_only]
/// Relay registry and order escrow: every transition, every timeout, every abort code.
/// Abort codes are `category << 16 | reason` (std::error); tests/contracts/move checks each literal
/// below against the constant and category used in market.move.
module agihub::order_tests {
    use std::signer;
    use std::string;
    use std::vector;
    use aptos_framework::aptos_coin::AptosCoin;
    use aptos_framework::timestamp;
    use agihub::market;
    use agihub::test_setup as t;

    const MAX_U64: u64 = 18446744073709551615;

    // ================================================================ relay registry

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun relay_register_update_deregister(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let addr = signer::address_of(relay);
        let (registered, pubkey, endpoint) = market::relay_info(addr);
        assert!(registered && pubkey == t::pubkey() && endpoint == t::endpoint(), 0);
        let new_key = x"abababababababababababababababababababababababababababababababab";
        market::update_relay(relay, new_key, string::utf8(b"https://relay2.example"));
        let (registered, pubkey, endpoint) = market::relay_info(addr);
        assert!(registered && pubkey == new_key && endpoint == string::utf8(b"https://relay2.example"), 1);
        market::deregister_relay(relay);
        let (registered, pubkey, _) = market::relay_info(addr);
        assert!(!registered && vector::is_empty(&pubkey), 2);
        // A deregistered relay may register again.
        market::register_relay(relay, t::pubkey(), t::endpoint());
        let (registered, _, _) = market::relay_info(addr);
        assert!(registered, 3);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x80006, location = agihub::market)]
    fun relay_register_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::register_relay(relay, t::pubkey(), t::endpoint());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10007, location = agihub::market)]
    fun relay_zero_pubkey(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let zero = x"0000000000000000000000000000000000000000000000000000000000000000";
        market::register_relay(buyer, zero, t::endpoint());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10007, location = agihub::market)]
    fun relay_short_pubkey(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::update_relay(relay, x"1111", t::endpoint());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10008, location = agihub::market)]
    fun relay_empty_endpoint(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::register_relay(buyer, t::pubkey(), string::utf8(b""));
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10008, location = agihub::market)]
    fun relay_endpoint_too_long(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let long = vector[];
        let i = 0;
        while (i < 257) {
            vector::push_back(&mut long, 0x61);
            i = i + 1;
        };
        market::register_relay(buyer, t::pubkey(), string::utf8(long));
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60005, location = agihub::market)]
    fun relay_update_unregistered(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::update_relay(buyer, t::pubkey(), t::endpoint());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60005, location = agihub::market)]
    fun relay_deregister_unregistered(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::deregister_relay(buyer);
    }

    // ================================================================ happy paths

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun full_lifecycle_pays_relay_and_fee(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::set_fee(publisher, 500);
        t::pull_default(buyer, relay);
        let escrow = t::down() + t::cost() + t::tip();
        assert!(t::balance_of(buyer) == t::funds() - escrow, 0);
        assert!(t::state_of(1) == 1, 1);
        assert!(market::next_order_id() == 2, 2);

        assert!(market::vault_balance<AptosCoin>() == escrow, 11);

        t::take_default(relay, 1);
        assert!(t::state_of(1) == 2, 3);
        assert!(t::credits_of(relay) == t::down(), 4);
        // The down payment moved from escrow to the relay's credits: the vault still holds it.
        assert!(market::vault_balance<AptosCoin>() == escrow, 12);

        t::confirm_default(buyer, 1);
        assert!(t::state_of(1) == 3, 5);

        t::reveal_default(relay, 1);
        // fee = (1000 + 50) * 500 / 10000 = 52 (rounded down)
        assert!(market::reward_pool<AptosCoin>() == 52, 6);
        assert!(t::credits_of(relay) == t::down() + 1050 - 52, 7);
        assert!(t::state_of(1) == 4, 8);
        assert!(market::vault_balance<AptosCoin>() == t::credits_of(relay) + 52, 13);

        market::withdraw<AptosCoin>(relay);
        assert!(t::balance_of(relay) == t::down() + 1050 - 52, 9);
        assert!(t::credits_of(relay) == 0, 10);
        // Only the reward pool is left.
        assert!(market::vault_balance<AptosCoin>() == 52, 14);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun terminal_order_keeps_only_its_state(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        let (_, buyer_addr, root, relays, taker, _, delivery, down, _, _, _, _, _, _, _) =
            market::get_order<AptosCoin>(1);
        assert!(buyer_addr == signer::address_of(buyer) && root == t::model_root(), 0);
        assert!(relays == vector[signer::address_of(relay)] && taker == signer::address_of(relay), 1);
        assert!(delivery == t::delivery_root() && down == t::down(), 2);
        t::reveal_default(relay, 1);
        let (state, buyer_addr, root, relays, _, _, _, down, cost, _, _, _, _, _, _) =
            market::get_order<AptosCoin>(1);
        assert!(state == 4 && buyer_addr == signer::address_of(buyer) && vector::is_empty(&root), 3);
        assert!(vector::is_empty(&relays) && down == 0 && cost == 0, 4);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun unknown_order_view_is_none(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        // Before any order the market for the coin does not even exist.
        assert!(t::state_of(1) == 0, 0);
        t::pull_default(buyer, relay);
        assert!(t::state_of(2) == 0, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, relay2 = @0x7e1b)]
    fun multi_relay_order_any_listed_relay_takes(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, relay2: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_relay(relay2);
        market::pull<AptosCoin>(
            buyer, t::model_root(), vector[signer::address_of(relay), signer::address_of(relay2)],
            0, 10, 0, 60, 60, 60
        );
        t::take_default(relay2, 1);
        let (_, _, _, _, taker, commit, _, _, _, _, _, _, _, _, _) = market::get_order<AptosCoin>(1);
        assert!(taker == signer::address_of(relay2) && commit == t::commit_for(relay2, 1), 0);
        // A zero down payment credits nothing at take.
        assert!(t::credits_of(relay2) == 0, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun cancel_refunds_everything(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
        assert!(t::state_of(1) == 5, 0);
        assert!(t::credits_of(buyer) == t::down() + t::cost() + t::tip(), 1);
        market::withdraw<AptosCoin>(buyer);
        assert!(t::balance_of(buyer) == t::funds(), 2);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun cancel_after_take_deadline_is_still_allowed(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window() + 1);
        market::cancel<AptosCoin>(buyer, 1);
        assert!(t::state_of(1) == 5, 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun raise_payment_open_then_tip_when_taken(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::raise_payment<AptosCoin>(buyer, 1, 1, 2, 3);
        let (down, cost, tip) = t::amounts_of(1);
        assert!(down == t::down() + 1 && cost == t::cost() + 2 && tip == t::tip() + 3, 0);
        t::take_default(relay, 1);
        assert!(t::credits_of(relay) == t::down() + 1, 1);
        market::raise_payment<AptosCoin>(buyer, 1, 0, 0, 7);
        let (_, _, tip) = t::amounts_of(1);
        assert!(tip == t::tip() + 10, 2);
        let spent = t::down() + t::cost() + t::tip() + 13;
        assert!(t::balance_of(buyer) == t::funds() - spent, 3);
        // The raised tip reaches the relay.
        t::confirm_default(buyer, 1);
        t::reveal_default(relay, 1);
        assert!(t::credits_of(relay) == spent, 4);
    }

    // ================================================================ timeouts

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun take_at_exact_deadline_succeeds(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window());
        t::take_default(relay, 1);
        let (_, _, _, _, _, _, _, _, _, _, _, _, _, ack_deadline, _) = market::get_order<AptosCoin>(1);
        assert!(ack_deadline == t::start() + t::take_window() + t::ack_window(), 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun settle_open_after_take_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window() + 1);
        market::settle<AptosCoin>(1);
        assert!(t::state_of(1) == 6, 0);
        assert!(t::credits_of(buyer) == t::down() + t::cost() + t::tip(), 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun settle_taken_after_ack_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        timestamp::fast_forward_seconds(t::ack_window() + 1);
        market::settle<AptosCoin>(1);
        assert!(t::state_of(1) == 6, 0);
        // The relay keeps the down payment; the buyer gets cost + tip back.
        assert!(t::credits_of(buyer) == t::cost() + t::tip(), 1);
        assert!(t::credits_of(relay) == t::down(), 2);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun settle_acked_after_reveal_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        timestamp::fast_forward_seconds(t::reveal_window() + 1);
        market::settle<AptosCoin>(1);
        assert!(t::state_of(1) == 6, 0);
        assert!(t::credits_of(buyer) == t::cost() + t::tip(), 1);
        assert!(t::credits_of(relay) == t::down(), 2);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30010, location = agihub::market)]
    fun take_after_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window() + 1);
        t::take_default(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30010, location = agihub::market)]
    fun confirm_after_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        timestamp::fast_forward_seconds(t::ack_window() + 1);
        t::confirm_default(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30010, location = agihub::market)]
    fun reveal_after_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        timestamp::fast_forward_seconds(t::reveal_window() + 1);
        t::reveal_default(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30011, location = agihub::market)]
    fun settle_open_before_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window());
        market::settle<AptosCoin>(1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30011, location = agihub::market)]
    fun settle_taken_at_exact_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        timestamp::fast_forward_seconds(t::ack_window());
        market::settle<AptosCoin>(1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30011, location = agihub::market)]
    fun settle_acked_before_deadline(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        market::settle<AptosCoin>(1);
    }

    // ================================================================ pull arguments

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10001, location = agihub::market)]
    fun pull_zero_cost(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::pull<AptosCoin>(buyer, t::model_root(), vector[signer::address_of(relay)], 5, 0, 5, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10002, location = agihub::market)]
    fun pull_no_relays(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::pull<AptosCoin>(buyer, t::model_root(), vector[], 0, 10, 0, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10003, location = agihub::market)]
    fun pull_too_many_relays(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let relays = vector[@0x1, @0x2, @0x3, @0x4, @0x5, @0x6, @0x7, @0x8, @0x9];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, 0, 10, 0, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10004, location = agihub::market)]
    fun pull_duplicate_relay(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let addr = signer::address_of(relay);
        market::pull<AptosCoin>(buyer, t::model_root(), vector[addr, addr], 0, 10, 0, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60005, location = agihub::market)]
    fun pull_unregistered_relay(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let relays = vector[signer::address_of(relay), @0xdead];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, 0, 10, 0, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10009, location = agihub::market)]
    fun pull_zero_window(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::pull<AptosCoin>(buyer, t::model_root(), vector[signer::address_of(relay)], 0, 10, 0, 0, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10009, location = agihub::market)]
    fun pull_window_over_30_days(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let relays = vector[signer::address_of(relay)];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, 0, 10, 0, 60, 60, 2592001);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun pull_window_of_exactly_30_days(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let relays = vector[signer::address_of(relay)];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, 0, 10, 0, 2592000, 2592000, 2592000);
        assert!(t::state_of(1) == 1, 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x20013, location = agihub::market)]
    fun pull_sum_overflows(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let relays = vector[signer::address_of(relay)];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, MAX_U64, 1, 0, 60, 60, 60);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10025, location = agihub::market)]
    fun pull_short_model_root(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        let root = t::model_root();
        vector::pop_back(&mut root);
        market::pull<AptosCoin>(buyer, root, vector[signer::address_of(relay)], 0, 10, 0, 60, 60, 60);
    }

    // ================================================================ raise_payment

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10001, location = agihub::market)]
    fun raise_nothing(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::raise_payment<AptosCoin>(buyer, 1, 0, 0, 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x5000c, location = agihub::market)]
    fun raise_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::raise_payment<AptosCoin>(relay, 1, 0, 0, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun raise_cost_when_taken(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        market::raise_payment<AptosCoin>(buyer, 1, 0, 1, 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun raise_tip_when_acked(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        market::raise_payment<AptosCoin>(buyer, 1, 0, 0, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x20013, location = agihub::market)]
    fun raise_overflows(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::raise_payment<AptosCoin>(buyer, 1, 0, 0, MAX_U64 - 10);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x6000b, location = agihub::market)]
    fun raise_unknown_order(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::raise_payment<AptosCoin>(buyer, 2, 0, 0, 1);
    }

    // ================================================================ cancel

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x6000b, location = agihub::market)]
    fun cancel_before_any_market(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x5000c, location = agihub::market)]
    fun cancel_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun cancel_after_take(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        market::cancel<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun cancel_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
        market::cancel<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x5000c, location = agihub::market)]
    fun cancel_finished_order_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        // A terminal order keeps its buyer, so a stranger is told it is not the buyer.
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
        market::cancel<AptosCoin>(relay, 1);
    }

    // ================================================================ take_order

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, relay2 = @0x7e1b)]
    #[expected_failure(abort_code = 0x5000d, location = agihub::market)]
    fun take_by_unlisted_relay(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, relay2: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_relay(relay2);
        t::pull_default(buyer, relay);
        t::take_default(relay2, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60005, location = agihub::market)]
    fun take_after_deregistering(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::deregister_relay(relay);
        t::take_default(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, relay2 = @0x7e1b)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun take_already_taken(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, relay2: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_relay(relay2);
        let relays = vector[signer::address_of(relay), signer::address_of(relay2)];
        market::pull<AptosCoin>(buyer, t::model_root(), relays, 1, 10, 0, 60, 60, 60);
        t::take_default(relay, 1);
        t::take_default(relay2, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10025, location = agihub::market)]
    fun take_short_commit(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::take_order<AptosCoin>(relay, 1, x"01");
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, relay2 = @0x7e1b)]
    #[expected_failure(abort_code = 0x30010, location = agihub::market)]
    fun take_late_by_unlisted_relay_reports_the_deadline(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, relay2: &signer
    ) {
        // Same check order as the Vyper port: state, then deadline, then listing.
        t::setup(framework, publisher, buyer, relay);
        t::add_relay(relay2);
        t::pull_default(buyer, relay);
        timestamp::fast_forward_seconds(t::take_window() + 1);
        t::take_default(relay2, 1);
    }

    // ================================================================ confirm_received

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x5000c, location = agihub::market)]
    fun confirm_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        t::confirm_default(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun confirm_open_order(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::confirm_default(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10025, location = agihub::market)]
    fun confirm_long_delivery_root(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        let root = t::delivery_root();
        vector::push_back(&mut root, 0);
        market::confirm_received<AptosCoin>(buyer, 1, root);
    }

    // ================================================================ reveal_key

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x5000e, location = agihub::market)]
    fun reveal_by_non_taker(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        market::reveal_key<AptosCoin>(buyer, 1, t::key(), t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun reveal_before_confirmation(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::take_default(relay, 1);
        t::reveal_default(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10012, location = agihub::market)]
    fun reveal_wrong_key(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        market::reveal_key<AptosCoin>(relay, 1, t::salt(), t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10012, location = agihub::market)]
    fun reveal_shifted_key_and_salt(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        // Same 64 bytes, split 31 + 33: must not pass as the committed 32 + 32.
        let key = t::key();
        let last = vector::pop_back(&mut key);
        let salt = vector[last];
        vector::append(&mut salt, t::salt());
        market::reveal_key<AptosCoin>(relay, 1, key, salt);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun reveal_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        t::reveal_default(relay, 1);
        t::reveal_default(relay, 1);
    }

    // ================================================================ settle and withdraw

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3000f, location = agihub::market)]
    fun settle_completed_order(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::acked_order(buyer, relay);
        t::reveal_default(relay, 1);
        timestamp::fast_forward_seconds(t::reveal_window() + 1);
        market::settle<AptosCoin>(1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x6000b, location = agihub::market)]
    fun settle_unknown_order(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::settle<AptosCoin>(7);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60024, location = agihub::market)]
    fun withdraw_without_credits(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::withdraw<AptosCoin>(buyer);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x60024, location = agihub::market)]
    fun withdraw_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
        market::withdraw<AptosCoin>(buyer);
        market::withdraw<AptosCoin>(buyer);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun orders_are_independent(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::pull_default(buyer, relay);
        t::pull_default(buyer, relay);
        market::cancel<AptosCoin>(buyer, 1);
        // Order 2 is untouched by the cancel of order 1.
        assert!(t::state_of(2) == 1, 0);
        let (down, cost, tip) = t::amounts_of(2);
        assert!(down == t::down() && cost == t::cost() && tip == t::tip(), 1);
        t::take_default(relay, 2);
        assert!(t::state_of(2) == 2 && t::state_of(1) == 5, 2);
    }
}
