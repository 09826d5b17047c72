// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {Market} from "../../src/Market.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice Opening games, publishing offers and demands, closing registration.
contract MarketRegistrationTest is MarketFixture {
    // ---------------------------------------------------------------- openGame

    function test_openGame_storesParamsAndPrices() public {
        IMarket.GameParams memory params = _params();
        vm.expectEmit(address(market));
        emit IMarket.GameOpened(
            1, params.registrationEnd, params.deliveryEnd, params.roundLimit, params.turnSeconds, params.epsilon
        );
        uint256 gameId = _openGame(params);

        assertEq(gameId, 1);
        assertEq(market.gameCount(), 1);
        assertEq(uint256(market.phase(gameId)), uint256(IMarket.Phase.Registration));
        (IMarket.GameParams memory stored, IMarket.GamePrices memory prices, IMarket.GameStatus memory status) =
            market.game(gameId);
        assertEq(keccak256(abi.encode(stored)), keccak256(abi.encode(params)));
        assertEq(prices.retail, RETAIL);
        assertEq(prices.feedIn, FEED_IN);
        assertEq(prices.transmissionFee, 20_000);
        assertEq(status.round, 0);
        assertEq(status.sellerCount, 0);
        assertEq(status.buyerCount, 0);
    }

    function test_openGame_numbersGames() public {
        assertEq(_openGame(), 1);
        assertEq(_openGame(), 2);
        assertEq(market.gameCount(), 2);
    }

    function test_openGame_snapshotsPrices() public {
        uint256 gameId = _openGame();
        vm.startPrank(operator);
        market.setGridPrices(1_000, 10);
        market.setTransmissionFee(7);
        vm.stopPrank();
        (, IMarket.GamePrices memory prices,) = market.game(gameId);
        assertEq(prices.retail, RETAIL);
        assertEq(prices.transmissionFee, 20_000);
        // an offer is checked against the game's retail price, not the new one
        address seller = _newProsumer(0);
        _offer(gameId, seller, 1_000, 200_000);
    }

    function test_openGame_revertsWhenNotClock() public {
        IMarket.GameParams memory params = _params();
        bytes32 clockRole = market.CLOCK_ROLE();
        vm.expectRevert(_unauthorized(operator, clockRole));
        vm.prank(operator);
        market.openGame(params);
    }

    function test_openGame_revertsWhenRegistrationEndNotInFuture() public {
        IMarket.GameParams memory params = _params();
        params.registrationEnd = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketRegistrationEndNotInFuture.selector, block.timestamp, block.timestamp)
        );
        vm.prank(clock);
        market.openGame(params);
    }

    function test_openGame_revertsWhenDeliveryEndBeforeRegistrationEnd() public {
        IMarket.GameParams memory params = _params();
        params.deliveryEnd = params.registrationEnd;
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarket.MarketDeliveryEndBeforeRegistrationEnd.selector, params.deliveryEnd, params.registrationEnd
            )
        );
        vm.prank(clock);
        market.openGame(params);
    }

    function test_openGame_revertsOnZeroRoundLimit() public {
        IMarket.GameParams memory params = _params();
        params.roundLimit = 0;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroRoundLimit.selector));
        vm.prank(clock);
        market.openGame(params);
    }

    function test_openGame_revertsOnZeroTurnSeconds() public {
        IMarket.GameParams memory params = _params();
        params.turnSeconds = 0;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroTurnSeconds.selector));
        vm.prank(clock);
        market.openGame(params);
    }

    function test_openGame_revertsWhenGridPricesNotSet() public {
        Market fresh = new Market(operator, address(forwarder));
        bytes32 clockRole = fresh.CLOCK_ROLE();
        vm.prank(operator);
        fresh.grantRole(clockRole, clock);
        IMarket.GameParams memory params = _params();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketGridPricesNotSet.selector));
        vm.prank(clock);
        fresh.openGame(params);
    }

    // ---------------------------------------------------------------- publishOffer

    function test_publishOffer_recordsOffer() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        vm.expectEmit(address(market));
        emit IMarket.OfferPublished(gameId, seller, 0, 5_000, 120_000);
        _offer(gameId, seller, 5_000, 120_000);

        IMarket.Offer[] memory list = market.offers(gameId);
        assertEq(list.length, 1);
        assertEq(list[0].seller, seller);
        assertEq(list[0].wh, 5_000);
        assertEq(list[0].price, 120_000);
        (IMarket.Role role, uint256 index) = market.participant(gameId, seller);
        assertEq(uint256(role), uint256(IMarket.Role.Seller));
        assertEq(index, 0);
        (,, IMarket.GameStatus memory status) = market.game(gameId);
        assertEq(status.sellerCount, 1);
    }

    function test_publishOffer_acceptsLargestAmountAndPrice() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        _offer(gameId, seller, type(uint32).max, RETAIL - 1);
        assertEq(market.offers(gameId)[0].wh, type(uint32).max);
    }

    function test_publishOffer_revertsWhenNotAdmitted() public {
        uint256 gameId = _openGame();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, stranger));
        vm.prank(stranger);
        market.publishOffer(gameId, 1_000, 100_000);
    }

    function test_publishOffer_revertsOnUnknownGame() public {
        address seller = _newProsumer(0);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketWrongPhase.selector, 7, IMarket.Phase.Registration, IMarket.Phase.None)
        );
        vm.prank(seller);
        market.publishOffer(7, 1_000, 100_000);
    }

    function test_publishOffer_revertsAfterRegistrationEnd() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        uint256 end = block.timestamp + REGISTRATION;
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRegistrationWindowClosed.selector, gameId, end, end));
        vm.prank(seller);
        market.publishOffer(gameId, 1_000, 100_000);
    }

    function test_publishOffer_revertsWhenRegistrationClosed() public {
        (uint256 gameId,,) = _startGame(1, 1_000, 1, 1_000);
        address seller = _newProsumer(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarket.MarketWrongPhase.selector, gameId, IMarket.Phase.Registration, IMarket.Phase.Bidding
            )
        );
        vm.prank(seller);
        market.publishOffer(gameId, 1_000, 100_000);
    }

    function test_publishOffer_revertsWhenAlreadyRegistered() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        _offer(gameId, seller, 1_000, 100_000);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRegistered.selector, gameId, seller));
        vm.prank(seller);
        market.publishOffer(gameId, 2_000, 100_000);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRegistered.selector, gameId, seller));
        vm.prank(seller);
        market.publishDemand(gameId, 2_000);
    }

    function test_publishOffer_revertsOnZeroAmount() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroAmount.selector));
        vm.prank(seller);
        market.publishOffer(gameId, 0, 100_000);
    }

    function test_publishOffer_revertsOnAmountTooLarge() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        uint256 wh = uint256(type(uint32).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAmountTooLarge.selector, wh, type(uint32).max));
        vm.prank(seller);
        market.publishOffer(gameId, wh, 100_000);
    }

    function test_publishOffer_revertsOnZeroPrice() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidOfferPrice.selector, 0, RETAIL));
        vm.prank(seller);
        market.publishOffer(gameId, 1_000, 0);
    }

    function test_publishOffer_revertsOnPriceAtRetail() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidOfferPrice.selector, RETAIL, RETAIL));
        vm.prank(seller);
        market.publishOffer(gameId, 1_000, RETAIL);
    }

    function test_publishOffer_revertsWhenGameFull() public {
        uint256 gameId = _openGame();
        uint256 limit = market.MAX_SELLERS();
        for (uint256 j; j < limit; ++j) {
            _offer(gameId, _newProsumer(0), 1, 1);
        }
        address late = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketGameFull.selector, gameId, limit));
        vm.prank(late);
        market.publishOffer(gameId, 1, 1);
    }

    // ---------------------------------------------------------------- publishDemand

    function test_publishDemand_recordsDemand() public {
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        vm.expectEmit(address(market));
        emit IMarket.DemandPublished(gameId, buyer, 0, 3_000);
        _demand(gameId, buyer, 3_000);

        IMarket.Demand[] memory list = market.demands(gameId);
        assertEq(list.length, 1);
        assertEq(list[0].buyer, buyer);
        assertEq(list[0].wh, 3_000);
        (IMarket.Role role, uint256 index) = market.participant(gameId, buyer);
        assertEq(uint256(role), uint256(IMarket.Role.Buyer));
        assertEq(index, 0);
    }

    function test_publishDemand_revertsWhenNotAdmitted() public {
        uint256 gameId = _openGame();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, stranger));
        vm.prank(stranger);
        market.publishDemand(gameId, 1_000);
    }

    function test_publishDemand_revertsWhenRegistrationClosed() public {
        (uint256 gameId,,) = _startGame(1, 1_000, 1, 1_000);
        address buyer = _newProsumer(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarket.MarketWrongPhase.selector, gameId, IMarket.Phase.Registration, IMarket.Phase.Bidding
            )
        );
        vm.prank(buyer);
        market.publishDemand(gameId, 1_000);
    }

    function test_publishDemand_revertsAfterRegistrationEnd() public {
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        uint256 end = block.timestamp + REGISTRATION;
        vm.warp(end + 5);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRegistrationWindowClosed.selector, gameId, end, end + 5));
        vm.prank(buyer);
        market.publishDemand(gameId, 1_000);
    }

    function test_publishDemand_revertsWhenAlreadyRegistered() public {
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        _demand(gameId, buyer, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRegistered.selector, gameId, buyer));
        vm.prank(buyer);
        market.publishDemand(gameId, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyRegistered.selector, gameId, buyer));
        vm.prank(buyer);
        market.publishOffer(gameId, 1_000, 100_000);
    }

    function test_publishDemand_revertsOnZeroAmount() public {
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroAmount.selector));
        vm.prank(buyer);
        market.publishDemand(gameId, 0);
    }

    function test_publishDemand_revertsOnAmountTooLarge() public {
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketAmountTooLarge.selector, type(uint256).max, type(uint32).max)
        );
        vm.prank(buyer);
        market.publishDemand(gameId, type(uint256).max);
    }

    function test_publishDemand_revertsWhenGameFull() public {
        uint256 gameId = _openGame();
        uint256 limit = market.MAX_BUYERS();
        for (uint256 i; i < limit; ++i) {
            _demand(gameId, _newProsumer(0), 1);
        }
        address late = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketGameFull.selector, gameId, limit));
        vm.prank(late);
        market.publishDemand(gameId, 1);
    }

    // ---------------------------------------------------------------- closeRegistration

    function test_closeRegistration_startsFirstTurn() public {
        uint256 gameId = _openGame();
        address seller = _newProsumer(0);
        address buyer = _newProsumer(0);
        _offer(gameId, seller, 1_000, 100_000);
        _demand(gameId, buyer, 500);
        vm.warp(block.timestamp + REGISTRATION);

        vm.expectEmit(address(market));
        emit IMarket.RegistrationClosed(gameId, 1, 1);
        vm.expectEmit(address(market));
        emit IMarket.TurnStarted(gameId, 1, buyer, block.timestamp + TURN);
        vm.prank(clock);
        market.closeRegistration(gameId);

        IMarket.GameState memory state = market.gameState(gameId);
        assertEq(uint256(state.status.phase), uint256(IMarket.Phase.Bidding));
        assertEq(state.status.round, 1);
        assertEq(state.status.turn, 0);
        assertEq(state.status.turnDeadline, block.timestamp + TURN);
        assertEq(state.currentBuyer, buyer);
    }

    function test_closeRegistration_ordersBuyersByContribution() public {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        address newcomer = _newProsumer(0); // no history: metric 0
        address consumer = _newProsumer(0); // 1 / 4
        address producer = _newProsumer(0); // produced, never consumed: infinite
        address balanced = _newProsumer(0); // 3 / 3
        address other = _newProsumer(0); // 2 / 1
        vm.startPrank(settlement);
        market.recordMetering(consumer, 1, 4);
        market.recordMetering(producer, 9, 0);
        market.recordMetering(balanced, 3, 3);
        market.recordMetering(other, 2, 1);
        vm.stopPrank();
        address[5] memory registrationOrder = [newcomer, consumer, producer, balanced, other];
        for (uint256 i; i < 5; ++i) {
            _demand(gameId, registrationOrder[i], 100);
        }
        _closeRegistration(gameId);

        IMarket.Demand[] memory list = market.demands(gameId);
        assertEq(list[0].buyer, producer);
        assertEq(list[1].buyer, other);
        assertEq(list[2].buyer, balanced);
        assertEq(list[3].buyer, consumer);
        assertEq(list[4].buyer, newcomer);
        assertEq(_currentBuyer(gameId), producer);
    }

    function test_closeRegistration_breaksTiesByAdmissionOrder() public {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        address first = _newProsumer(0);
        address second = _newProsumer(0);
        address third = _newProsumer(0);
        vm.startPrank(settlement);
        market.recordMetering(first, 1, 2);
        market.recordMetering(second, 2, 4); // the same ratio as `first`
        market.recordMetering(third, 1, 2);
        vm.stopPrank();
        // register in reverse admission order: the turn order still follows admission
        _demand(gameId, third, 100);
        _demand(gameId, second, 100);
        _demand(gameId, first, 100);
        _closeRegistration(gameId);

        IMarket.Demand[] memory list = market.demands(gameId);
        assertEq(list[0].buyer, first);
        assertEq(list[1].buyer, second);
        assertEq(list[2].buyer, third);
    }

    function test_closeRegistration_endsWithoutSellers() public {
        uint256 gameId = _openGame();
        _demand(gameId, _newProsumer(0), 100);
        vm.warp(block.timestamp + REGISTRATION);
        vm.expectEmit(address(market));
        emit IMarket.RegistrationClosed(gameId, 0, 1);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 0, IMarket.EndReason.NoParticipants);
        vm.prank(clock);
        market.closeRegistration(gameId);

        (,, IMarket.GameStatus memory status) = market.game(gameId);
        assertEq(uint256(status.phase), uint256(IMarket.Phase.Ended));
        assertEq(uint256(status.endReason), uint256(IMarket.EndReason.NoParticipants));
        assertEq(market.gameState(gameId).currentBuyer, address(0));
    }

    function test_closeRegistration_endsWithoutBuyers() public {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        vm.warp(block.timestamp + REGISTRATION);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 0, IMarket.EndReason.NoParticipants);
        vm.prank(clock);
        market.closeRegistration(gameId);
        assertEq(uint256(market.phase(gameId)), uint256(IMarket.Phase.Ended));
    }

    function test_closeRegistration_revertsWhenNotClock() public {
        uint256 gameId = _openGame();
        vm.warp(block.timestamp + REGISTRATION);
        vm.expectRevert(_unauthorized(stranger, market.CLOCK_ROLE()));
        vm.prank(stranger);
        market.closeRegistration(gameId);
    }

    function test_closeRegistration_revertsBeforeRegistrationEnd() public {
        uint256 gameId = _openGame();
        uint256 end = block.timestamp + REGISTRATION;
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketRegistrationWindowOpen.selector, gameId, end, end - 1));
        vm.prank(clock);
        market.closeRegistration(gameId);
    }

    function test_closeRegistration_revertsWhenAlreadyClosed() public {
        (uint256 gameId,,) = _startGame(1, 1_000, 1, 1_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarket.MarketWrongPhase.selector, gameId, IMarket.Phase.Registration, IMarket.Phase.Bidding
            )
        );
        vm.prank(clock);
        market.closeRegistration(gameId);
    }

    /// @dev Random histories: the turn order is sorted by production / consumption, highest
    /// first, ties by admission; checked pairwise by cross-multiplication against the records.
    function test_fuzz_closeRegistration_ordersByMetric(uint256 seed, uint8 buyerCount) public {
        uint256 n = bound(buyerCount, 1, 40);
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        for (uint256 i; i < n; ++i) {
            address buyer = _newProsumer(0);
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // small values make ties and zero histories likely
            vm.prank(settlement);
            market.recordMetering(buyer, r % 4, (r >> 8) % 4);
            _demand(gameId, buyer, 10);
        }
        _closeRegistration(gameId);

        IMarket.Demand[] memory list = market.demands(gameId);
        for (uint256 i = 1; i < n; ++i) {
            IMarket.Prosumer memory a = market.prosumer(list[i - 1].buyer);
            IMarket.Prosumer memory b = market.prosumer(list[i].buyer);
            (uint256 pa, uint256 ca) = _normalised(a.producedWh, a.consumedWh);
            (uint256 pb, uint256 cb) = _normalised(b.producedWh, b.consumedWh);
            assertGe(pa * cb, pb * ca);
            if (pa * cb == pb * ca) assertLt(a.admissionIndex, b.admissionIndex);
        }
    }

    function _normalised(uint256 p, uint256 c) private pure returns (uint256, uint256) {
        if (c == 0) return p == 0 ? (0, 1) : (1, 0);
        return (p, c);
    }
}
