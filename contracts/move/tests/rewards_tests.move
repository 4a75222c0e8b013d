#[test_only]
/// Administration (two-step admin, fee, validators, quorum) and the PoWoC reward epochs.
/// Abort codes are `category << 16 | reason` (std::error); tests/contracts/move checks each literal.
module agihub::rewards_tests {
    use std::signer;
    use aptos_framework::aptos_coin::AptosCoin;
    use aptos_framework::timestamp;
    use agihub::market;
    use agihub::test_setup as t;

    // ================================================================ administration

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun admin_two_step_transfer(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        assert!(market::admin() == @agihub, 0);
        market::transfer_admin(publisher, signer::address_of(buyer));
        // Nothing changes until the new admin accepts.
        assert!(market::admin() == @agihub && market::pending_admin() == signer::address_of(buyer), 1);
        market::accept_admin(buyer);
        assert!(market::admin() == signer::address_of(buyer) && market::pending_admin() == @0x0, 2);
        market::set_fee(buyer, 1000);
        assert!(market::fee_bps() == 1000, 3);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50014, location = agihub::market)]
    fun old_admin_loses_rights(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::transfer_admin(publisher, signer::address_of(buyer));
        market::accept_admin(buyer);
        market::set_fee(publisher, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50014, location = agihub::market)]
    fun transfer_admin_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::transfer_admin(buyer, signer::address_of(buyer));
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50015, location = agihub::market)]
    fun accept_without_transfer(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::accept_admin(buyer);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50015, location = agihub::market)]
    fun accept_by_someone_else(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::transfer_admin(publisher, signer::address_of(buyer));
        market::accept_admin(relay);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10016, location = agihub::market)]
    fun fee_above_cap(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::set_fee(publisher, 1001);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun validators_and_quorum(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        assert!(market::quorum() == 1, 0);
        market::add_validator(publisher, @0xa1);
        assert!(market::is_validator(@0xa1) && !market::is_validator(@0xa2), 1);
        market::remove_validator(publisher, @0xa1);
        assert!(!market::is_validator(@0xa1), 2);
        market::set_quorum(publisher, 3);
        assert!(market::quorum() == 3, 3);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50014, location = agihub::market)]
    fun add_validator_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::add_validator(buyer, @0xa1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x80019, location = agihub::market)]
    fun add_validator_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::add_validator(publisher, @0xa1);
        market::add_validator(publisher, @0xa1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x50018, location = agihub::market)]
    fun remove_unknown_validator(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::remove_validator(publisher, @0xa1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10017, location = agihub::market)]
    fun quorum_zero(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::set_quorum(publisher, 0);
    }

    // ================================================================ reward epochs

    /// Setup + 10% fee + one completed default order: the reward pool holds 105.
    fun funded_pool(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::set_fee(publisher, 1000);
        t::acked_order(buyer, relay);
        t::reveal_default(relay, 1);
        assert!(market::reward_pool<AptosCoin>() == 105, 100);
    }

    #[test(
        framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a,
        alice = @0xa11ce, bob = @0xb0b0, v1 = @0xa1, v2 = @0xa2
    )]
    fun epoch_rewards_split_by_final_score(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer,
        alice: &signer, bob: &signer, v1: &signer, v2: &signer
    ) {
        funded_pool(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        t::add_validator(publisher, v2);
        market::set_quorum(publisher, 2);
        market::register_contribution<AptosCoin>(alice, t::model_root(), t::parent_root());
        market::register_contribution<AptosCoin>(bob, t::parent_root(), t::model_root());
        let (contributor, _, _, epoch, finalized, _, _) = market::contribution<AptosCoin>(1);
        assert!(contributor == signer::address_of(alice) && epoch == 1 && !finalized, 0);

        t::score(v1, 1, 30);
        let (_, _, _, _, finalized, _, _) = market::contribution<AptosCoin>(1);
        assert!(!finalized, 1);
        t::score(v2, 1, 30);
        t::score(v1, 2, 10);
        t::score(v2, 2, 10);
        let (_, _, _, _, finalized, score, _) = market::contribution<AptosCoin>(1);
        assert!(finalized && score == 30, 2);
        let (epoch, _, length, total) = market::current_epoch<AptosCoin>();
        assert!(epoch == 1 && length == t::epoch_length() && total == 40, 3);

        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        let (closed, pool, total) = market::epoch_result<AptosCoin>(1);
        assert!(closed && pool == 105 && total == 40, 4);
        assert!(market::reward_pool<AptosCoin>() == 0, 5);

        market::claim_reward<AptosCoin>(alice, 1);
        market::claim_reward<AptosCoin>(bob, 2);
        // 105 * 30 / 40 = 78, 105 * 10 / 40 = 26; 1 unit of rounding dust stays in the vault.
        assert!(t::credits_of(alice) == 78 && t::credits_of(bob) == 26, 6);
        let (_, _, _, _, _, _, claimed) = market::contribution<AptosCoin>(1);
        assert!(claimed, 7);
        // Vault = relay credits (1150 - 105) + rewards (78 + 26) + 1 unit of dust, nothing more.
        let relay_credits = t::credits_of(relay);
        assert!(relay_credits == 1045, 8);
        assert!(market::vault_balance<AptosCoin>() == relay_credits + 78 + 26 + 1, 9);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1, v2 = @0xa2)]
    fun split_reveals_do_not_finalize(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer, v2: &signer
    ) {
        funded_pool(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        t::add_validator(publisher, v2);
        market::set_quorum(publisher, 2);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 30);
        t::score(v2, 1, 31);
        let (_, _, _, _, finalized, score, _) = market::contribution<AptosCoin>(1);
        assert!(!finalized && score == 0, 0);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    fun scoreless_epoch_rolls_pool_over(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        let (closed, pool, total) = market::epoch_result<AptosCoin>(1);
        assert!(closed && pool == 0 && total == 0, 0);
        assert!(market::reward_pool<AptosCoin>() == 105, 1);
        let (epoch, start, _, _) = market::current_epoch<AptosCoin>();
        assert!(epoch == 2 && start == timestamp::now_seconds(), 2);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x3001f, location = agihub::market)]
    fun close_epoch_early(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        timestamp::fast_forward_seconds(t::epoch_length() - 1);
        market::close_epoch<AptosCoin>();
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x10025, location = agihub::market)]
    fun contribution_short_root(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::register_contribution<AptosCoin>(buyer, x"00", t::parent_root());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x50018, location = agihub::market)]
    fun commit_by_non_validator(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 5);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x6001a, location = agihub::market)]
    fun commit_unknown_contribution(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 2, 5);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x8001b, location = agihub::market)]
    fun commit_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        market::commit_score<AptosCoin>(v1, 1, t::key());
        market::commit_score<AptosCoin>(v1, 1, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x10025, location = agihub::market)]
    fun commit_short_commitment(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        market::commit_score<AptosCoin>(v1, 1, x"0102");
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x3001e, location = agihub::market)]
    fun commit_after_epoch_closed(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        t::score(v1, 1, 5);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x3001e, location = agihub::market)]
    fun reveal_after_epoch_closed(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        let commitment = market::score_commitment(5, t::salt(), 1, signer::address_of(v1));
        market::commit_score<AptosCoin>(v1, 1, commitment);
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        market::reveal_score<AptosCoin>(v1, 1, 5, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x6001c, location = agihub::market)]
    fun reveal_without_commit(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        market::reveal_score<AptosCoin>(v1, 1, 5, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x8001d, location = agihub::market)]
    fun reveal_score_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 5);
        market::reveal_score<AptosCoin>(v1, 1, 5, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x10012, location = agihub::market)]
    fun reveal_other_score(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        let commitment = market::score_commitment(5, t::salt(), 1, signer::address_of(v1));
        market::commit_score<AptosCoin>(v1, 1, commitment);
        market::reveal_score<AptosCoin>(v1, 1, 6, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x50018, location = agihub::market)]
    fun reveal_after_validator_removed(
        framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer
    ) {
        t::setup(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        let commitment = market::score_commitment(5, t::salt(), 1, signer::address_of(v1));
        market::commit_score<AptosCoin>(v1, 1, commitment);
        market::remove_validator(publisher, signer::address_of(v1));
        market::reveal_score<AptosCoin>(v1, 1, 5, t::salt());
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x30020, location = agihub::market)]
    fun claim_while_epoch_open(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 5);
        market::claim_reward<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x30021, location = agihub::market)]
    fun claim_unscored(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        market::claim_reward<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x80022, location = agihub::market)]
    fun claim_twice(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 5);
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        market::claim_reward<AptosCoin>(buyer, 1);
        assert!(t::credits_of(buyer) == 105, 0);
        market::claim_reward<AptosCoin>(buyer, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a, v1 = @0xa1)]
    #[expected_failure(abort_code = 0x50023, location = agihub::market)]
    fun claim_by_stranger(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer, v1: &signer) {
        funded_pool(framework, publisher, buyer, relay);
        t::add_validator(publisher, v1);
        market::register_contribution<AptosCoin>(buyer, t::model_root(), t::parent_root());
        t::score(v1, 1, 5);
        timestamp::fast_forward_seconds(t::epoch_length());
        market::close_epoch<AptosCoin>();
        market::claim_reward<AptosCoin>(relay, 1);
    }

    #[test(framework = @aptos_framework, publisher = @agihub, buyer = @0xb0b, relay = @0x7e1a)]
    #[expected_failure(abort_code = 0x6001a, location = agihub::market)]
    fun claim_before_any_market(framework: &signer, publisher: &signer, buyer: &signer, relay: &signer) {
        t::setup(framework, publisher, buyer, relay);
        market::claim_reward<AptosCoin>(buyer, 1);
    }
}
