// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {Vm} from "../utils/Vm.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice A bid or stand is bound to the turn it was computed for (`MarketStaleTurn`), and
/// bidding is bounded by the game's delivery end (`EndReason.TimeLimit`).
contract MarketTurnBoundsTest is MarketFixture {
    uint256 internal gameId;
    address[] internal sellers;
    address[] internal buyers;
    uint256 internal deliveryEnd;

    /// @dev Two sellers (1000 Wh and 500 Wh) and two buyers (800 Wh, then 600 Wh), bidding at
    /// round 1, turn 0; the delivery ends an hour after registration.
    function setUp() public override {
        super.setUp();
        IMarket.GameParams memory params = _params();
        deliveryEnd = params.deliveryEnd;
        (gameId, sellers, buyers) = _startGame(params, _list(1_000, 500), _list(100_000, 150_000), _list(800, 600));
    }

    function _stale(uint256 round, uint256 turn, uint256 currentRound, uint256 currentTurn)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IMarket.MarketStaleTurn.selector, gameId, round, turn, currentRound, currentTurn);
    }

    function _snapshot() internal view returns (bytes memory) {
        return abi.encode(market.gameState(gameId), market.allocation(gameId));
    }

    function _status() internal view returns (IMarket.GameStatus memory status) {
        (,, status) = market.game(gameId);
    }

    function _assertEnded(IMarket.EndReason reason) internal view {
        IMarket.GameStatus memory status = _status();
        assertEq(uint256(status.phase), uint256(IMarket.Phase.Ended));
        assertEq(uint256(status.endReason), uint256(reason));
    }

    // ---------------------------------------------------------------- stale bid

    function test_bid_revertsForEarlierRound() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 100));
        bytes memory before = _snapshot();
        // buyers[0]'s bid computed in round 1 arrives in round 2, on its own turn
        vm.expectRevert(_stale(1, 0, 2, 0));
        _bidAt(gameId, buyers[0], 1, 0, _list(500, 0));
        assertEq(_snapshot(), before);
    }

    function test_bid_revertsForLaterRound() public {
        bytes memory before = _snapshot();
        vm.expectRevert(_stale(2, 0, 1, 0));
        _bidAt(gameId, buyers[0], 2, 0, _list(300, 200));
        assertEq(_snapshot(), before);
    }

    function test_bid_revertsForWrongTurn() public {
        bytes memory before = _snapshot();
        vm.expectRevert(_stale(1, 1, 1, 0));
        _bidAt(gameId, buyers[0], 1, 1, _list(300, 200));
        assertEq(_snapshot(), before);
    }

    /// @dev A delayed bid landing in another buyer's turn is named stale, not "not your turn".
    function test_bid_revertsWhenDelayedIntoAnotherTurn() public {
        _bid(gameId, buyers[0], _list(300, 200));
        vm.expectRevert(_stale(1, 0, 1, 1));
        _bidAt(gameId, buyers[0], 1, 0, _list(0, 0));
        assertEq(market.bidOf(gameId, buyers[0]), _list(300, 200));
    }

    /// @dev Who may bid is checked first: a seller is not a buyer, whatever turn it names.
    function test_bid_revertsWhenNotBuyerWhateverTurn() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBuyer.selector, gameId, sellers[0]));
        _bidAt(gameId, sellers[0], 7, 3, _list(1, 1));
    }

    /// @dev A stale bid is refused even once the delivery end has come: it is not the caller's
    /// to end the game with.
    function test_bid_staleRevertsAfterDeliveryEnd() public {
        vm.warp(deliveryEnd);
        vm.expectRevert(_stale(2, 0, 1, 0));
        _bidAt(gameId, buyers[0], 2, 0, _list(1, 1));
        assertEq(uint256(market.phase(gameId)), uint256(IMarket.Phase.Bidding));
    }

    // ---------------------------------------------------------------- stale stand

    function test_stand_revertsForEarlierRound() public {
        _stand(gameId, buyers[0]);
        _bid(gameId, buyers[1], _list(100, 100));
        bytes memory before = _snapshot();
        vm.expectRevert(_stale(1, 0, 2, 0));
        vm.prank(buyers[0]);
        market.stand(gameId, 1, 0);
        assertEq(_snapshot(), before);
    }

    function test_stand_revertsForLaterRound() public {
        bytes memory before = _snapshot();
        vm.expectRevert(_stale(3, 0, 1, 0));
        vm.prank(buyers[0]);
        market.stand(gameId, 3, 0);
        assertEq(_snapshot(), before);
    }

    function test_stand_revertsForWrongTurn() public {
        _bid(gameId, buyers[0], _list(300, 200));
        bytes memory before = _snapshot();
        vm.expectRevert(_stale(1, 0, 1, 1));
        vm.prank(buyers[1]);
        market.stand(gameId, 1, 0);
        assertEq(_snapshot(), before);
    }

    // ---------------------------------------------------------------- opening

    function test_openGame_copiesDeliveryEndIntoStatus() public view {
        assertEq(_status().biddingEnd, deliveryEnd);
    }

    function test_openGame_revertsWhenDeliveryEndTooLate() public {
        IMarket.GameParams memory params = _params();
        params.deliveryEnd = uint64(type(uint32).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IMarket.MarketDeliveryEndTooLate.selector, params.deliveryEnd, type(uint32).max)
        );
        vm.prank(clock);
        market.openGame(params);
        params.deliveryEnd = type(uint32).max;
        vm.prank(clock);
        market.openGame(params);
    }

    // ---------------------------------------------------------------- turn deadlines

    function test_turnDeadline_isCappedBeforeDeliveryEnd() public {
        vm.warp(deliveryEnd - 10); // the first turn expired long ago
        vm.expectEmit(address(market));
        emit IMarket.TurnStarted(gameId, 1, buyers[1], deliveryEnd - 1); // not deliveryEnd - 10 + TURN
        vm.prank(clock);
        market.skipTurn(gameId);
        assertEq(_status().turnDeadline, deliveryEnd - 1);
    }

    function test_bid_acceptedInTheLastSecond() public {
        uint256 deadline = _status().turnDeadline;
        vm.warp(deliveryEnd - 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTurnExpired.selector, gameId, deadline, deliveryEnd - 1));
        _bidAt(gameId, buyers[0], 1, 0, _list(300, 200));
        vm.prank(clock);
        market.skipTurn(gameId); // a turn started in the last second gets that second
        assertEq(_status().turnDeadline, deliveryEnd - 1);
        _bid(gameId, buyers[1], _list(100, 100));
        assertEq(market.bidOf(gameId, buyers[1]), _list(100, 100));
        assertEq(uint256(market.phase(gameId)), uint256(IMarket.Phase.Bidding));
    }

    // ---------------------------------------------------------------- time limit

    function test_bid_atDeliveryEndEndsGameWithTimeLimit() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 100));
        vm.warp(deliveryEnd);
        vm.recordLogs();
        _bidAt(gameId, buyers[0], 2, 0, _list(500, 0));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "only GameEnded");
        assertEq(logs[0].topics[0], IMarket.GameEnded.selector);
        assertEq(logs[0].data, abi.encode(uint256(2), IMarket.EndReason.TimeLimit));
        _assertEnded(IMarket.EndReason.TimeLimit);
        assertEq(market.bidOf(gameId, buyers[0]), _list(300, 200), "the late bid is not applied");
        assertEq(market.gameState(gameId).loads, _list(400, 300));
    }

    function test_bid_afterDeliveryEndEndsGameWithoutCheckingTheBid() public {
        vm.warp(deliveryEnd + 1 days);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 1, IMarket.EndReason.TimeLimit);
        _bidAt(gameId, buyers[0], 1, 0, _list(5_000, 5_000)); // over demand and capacity
        _assertEnded(IMarket.EndReason.TimeLimit);
        assertEq(market.gameState(gameId).loads, _list(0, 0));
    }

    function test_stand_atDeliveryEndEndsGameWithTimeLimit() public {
        _bid(gameId, buyers[0], _list(300, 200));
        vm.warp(deliveryEnd);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 1, IMarket.EndReason.TimeLimit);
        vm.prank(buyers[1]);
        market.stand(gameId, 1, 1);
        _assertEnded(IMarket.EndReason.TimeLimit);
    }

    function test_skipTurn_atDeliveryEndEndsGameWithTimeLimit() public {
        vm.warp(deliveryEnd);
        vm.expectEmit(address(market));
        emit IMarket.TurnSkipped(gameId, buyers[0], 1);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 1, IMarket.EndReason.TimeLimit);
        vm.prank(clock);
        market.skipTurn(gameId);
        _assertEnded(IMarket.EndReason.TimeLimit);
    }

    /// @dev A turn's deadline is at most deliveryEnd - 1, so the clock may skip at deliveryEnd
    /// even when the turn started only a second before.
    function test_skipTurn_atDeliveryEndRightAfterTurnStart() public {
        vm.warp(deliveryEnd - 1);
        vm.prank(clock);
        market.skipTurn(gameId); // buyers[1]'s turn starts with one second left
        vm.warp(deliveryEnd);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 1, IMarket.EndReason.TimeLimit);
        vm.prank(clock);
        market.skipTurn(gameId);
        _assertEnded(IMarket.EndReason.TimeLimit);
    }

    function test_closeRegistration_afterDeliveryEndEndsGameWithTimeLimit() public {
        IMarket.GameParams memory params = _params();
        uint256 id = _openGame(params);
        _offer(id, sellers[0], 1_000, 100_000);
        _demand(id, buyers[0], 800);
        vm.warp(params.deliveryEnd);
        vm.expectEmit(address(market));
        emit IMarket.RegistrationClosed(id, 1, 1);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(id, 0, IMarket.EndReason.TimeLimit);
        vm.prank(clock);
        market.closeRegistration(id);
        (,, IMarket.GameStatus memory status) = market.game(id);
        assertEq(uint256(status.endReason), uint256(IMarket.EndReason.TimeLimit));
        assertEq(status.round, 0);
    }

    /// @dev A round that converges in the last second ends as converged, not for time.
    function test_game_convergesInTheLastSecond() public {
        _bid(gameId, buyers[0], _list(300, 200));
        vm.warp(deliveryEnd - 1);
        vm.prank(clock);
        market.skipTurn(gameId); // round 1 done, round 2 starts with the last second
        _stand(gameId, buyers[0]);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 2, IMarket.EndReason.Converged);
        _stand(gameId, buyers[1]);
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev Oscillating buyers (never converging) that take a random part of their turn, or miss
    /// it: the game ends by the delivery end at the latest, for its round limit or for time.
    function test_fuzz_game_endsByDeliveryEnd(uint256 seed, uint8 buyerCount, uint16 delivery, uint16 roundLimit)
        public
    {
        IMarket.GameParams memory params = _params();
        params.deliveryEnd = params.registrationEnd + uint64(bound(delivery, 1, 3_600));
        params.roundLimit = uint32(bound(roundLimit, 1, 50));
        uint256 n = bound(buyerCount, 1, 6);
        (uint256 id,, address[] memory players) = _startGame(params, _list(1_000), _list(100_000), _filled(n, 100));
        for (uint256 k; market.phase(id) == IMarket.Phase.Bidding; ++k) {
            IMarket.GameState memory state = market.gameState(id);
            uint256 wait = bound(uint256(keccak256(abi.encode(seed, k))), 0, TURN + 5);
            vm.warp(block.timestamp + wait);
            if (block.timestamp > state.status.turnDeadline) {
                vm.prank(clock);
                market.skipTurn(id);
            } else {
                uint256 amount = state.currentBid[0] == 0 ? 100 : 0; // oscillates
                _bidAt(id, players[state.status.turn], state.status.round, state.status.turn, _list(amount));
            }
            if (block.timestamp >= params.deliveryEnd) {
                assertEq(uint256(market.phase(id)), uint256(IMarket.Phase.Ended), "a turn past the delivery end");
            }
        }
        (,, IMarket.GameStatus memory status) = market.game(id);
        if (status.endReason == IMarket.EndReason.TimeLimit) {
            assertGe(block.timestamp, params.deliveryEnd, "time limit before the delivery end");
        } else {
            assertLt(block.timestamp, params.deliveryEnd, "played past the delivery end");
            // skips of a whole round converge; otherwise the round limit ends it
            assertTrue(
                status.endReason == IMarket.EndReason.RoundLimit || status.endReason == IMarket.EndReason.Converged
            );
        }
    }
}
