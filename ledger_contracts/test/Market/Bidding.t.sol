// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice Turns: bid, stand, skipTurn, and how a game ends.
contract MarketBiddingTest is MarketFixture {
    uint256 internal gameId;
    address[] internal sellers;
    address[] internal buyers;

    /// @dev Two sellers (1000 Wh and 500 Wh) and two buyers (800 Wh, then 600 Wh), bidding.
    function setUp() public override {
        super.setUp();
        (gameId, sellers, buyers) = _startGame(_params(), _list(1_000, 500), _list(100_000, 150_000), _list(800, 600));
    }

    function _deadline() internal view returns (uint256) {
        return market.gameState(gameId).status.turnDeadline;
    }

    function _wrongPhase(IMarket.Phase actual) internal view returns (bytes memory) {
        return abi.encodeWithSelector(IMarket.MarketWrongPhase.selector, gameId, IMarket.Phase.Bidding, actual);
    }

    /// @dev Plays a round in which both buyers stand.
    function _standRound() internal {
        _stand(gameId, buyers[0]);
        _stand(gameId, buyers[1]);
    }

    // ---------------------------------------------------------------- bid

    function test_bid_storesBidAndLoads() public {
        uint256[] memory amounts = _list(300, 200);
        vm.expectEmit(address(market));
        emit IMarket.BidSubmitted(gameId, buyers[0], 1, amounts);
        vm.expectEmit(address(market));
        emit IMarket.TurnStarted(gameId, 1, buyers[1], block.timestamp + TURN);
        _bid(gameId, buyers[0], amounts);

        assertEq(market.bidOf(gameId, buyers[0]), amounts);
        IMarket.GameState memory state = market.gameState(gameId);
        assertEq(state.loads, amounts);
        assertEq(state.currentBuyer, buyers[1]);
        assertEq(state.currentBid, _list(0, 0));
        assertEq(state.status.turn, 1);
        assertEq(state.status.roundMaxChange, 300);
    }

    function test_bid_replacesPreviousBid() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 300));
        assertEq(market.gameState(gameId).loads, _list(400, 500));
        assertEq(market.gameState(gameId).currentBid, _list(300, 200));

        _bid(gameId, buyers[0], _list(500, 0));
        assertEq(market.bidOf(gameId, buyers[0]), _list(500, 0));
        assertEq(market.gameState(gameId).loads, _list(600, 300));
        assertEq(market.gameState(gameId).status.round, 2);
    }

    function test_bid_acceptsFullCapacityAndDemand() public {
        _bid(gameId, buyers[0], _list(300, 500));
        _bid(gameId, buyers[1], _list(600, 0));
        assertEq(market.gameState(gameId).loads, _list(900, 500));
    }

    function test_bid_acceptsAtDeadline() public {
        vm.warp(_deadline());
        _bid(gameId, buyers[0], _list(1, 1));
        assertEq(_currentBuyer(gameId), buyers[1]);
    }

    function test_bid_revertsWhenNotAdmitted() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, stranger));
        vm.prank(stranger);
        market.bid(gameId, 1, 0, _list(1, 1));
    }

    function test_bid_revertsWhenRevoked() public {
        vm.prank(operator);
        market.revoke(buyers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, buyers[0]));
        _bidAt(gameId, buyers[0], 1, 0, _list(1, 1));
    }

    function test_bid_revertsDuringRegistration() public {
        uint256 open = _openGame();
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarket.MarketWrongPhase.selector, open, IMarket.Phase.Bidding, IMarket.Phase.Registration
            )
        );
        _bidAt(open, buyers[0], 1, 0, _list(1, 1));
    }

    function test_bid_revertsAfterGameEnded() public {
        _standRound();
        vm.expectRevert(_wrongPhase(IMarket.Phase.Ended));
        _bidAt(gameId, buyers[0], 1, 0, _list(1, 1));
    }

    function test_bid_revertsWhenNotBuyer() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBuyer.selector, gameId, sellers[0]));
        _bidAt(gameId, sellers[0], 1, 0, _list(1, 1));
    }

    function test_bid_revertsWhenNotYourTurn() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotYourTurn.selector, gameId, buyers[0], buyers[1]));
        _bidAt(gameId, buyers[1], 1, 0, _list(1, 1));
    }

    function test_bid_revertsAfterDeadline() public {
        uint256 deadline = _deadline();
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTurnExpired.selector, gameId, deadline, deadline + 1));
        _bidAt(gameId, buyers[0], 1, 0, _list(1, 1));
    }

    function test_bid_revertsOnLengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidLengthMismatch.selector, 2, 1));
        _bidAt(gameId, buyers[0], 1, 0, _list(1));
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidLengthMismatch.selector, 2, 3));
        _bidAt(gameId, buyers[0], 1, 0, _list(1, 1, 1));
    }

    function test_bid_revertsWhenExceedsDemand() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidExceedsDemand.selector, 801, 800));
        _bidAt(gameId, buyers[0], 1, 0, _list(500, 301));
    }

    function test_bid_revertsWhenTotalOverflows() public {
        uint256 max = type(uint256).max;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidExceedsDemand.selector, max, 800));
        _bidAt(gameId, buyers[0], 1, 0, _list(max, 2));
    }

    function test_bid_revertsWhenExceedsCapacity() public {
        _bid(gameId, buyers[0], _list(0, 400));
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidExceedsCapacity.selector, 1, 600, 500));
        _bidAt(gameId, buyers[1], 1, 1, _list(0, 200));
    }

    function test_bid_refusalLeavesStateUnchanged() public {
        _bid(gameId, buyers[0], _list(300, 400));
        bytes memory before = abi.encode(market.gameState(gameId), market.allocation(gameId));

        vm.prank(buyers[1]);
        (bool ok,) = address(market).call(abi.encodeCall(market.bid, (gameId, 1, 1, _list(100, 101))));
        assertFalse(ok);
        assertEq(abi.encode(market.gameState(gameId), market.allocation(gameId)), before);
    }

    // ---------------------------------------------------------------- stand

    function test_stand_keepsBid() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 100));
        vm.expectEmit(address(market));
        emit IMarket.BidStood(gameId, buyers[0], 2);
        vm.prank(buyers[0]);
        market.stand(gameId, 2, 0);
        assertEq(market.bidOf(gameId, buyers[0]), _list(300, 200));
        assertEq(market.gameState(gameId).loads, _list(400, 300));
        assertEq(market.gameState(gameId).status.roundMaxChange, 0);
    }

    function test_stand_revertsWhenNotAdmitted() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, stranger));
        vm.prank(stranger);
        market.stand(gameId, 1, 0);
    }

    function test_stand_revertsWhenNotBuyer() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBuyer.selector, gameId, sellers[1]));
        vm.prank(sellers[1]);
        market.stand(gameId, 1, 0);
    }

    function test_stand_revertsWhenNotYourTurn() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotYourTurn.selector, gameId, buyers[0], buyers[1]));
        vm.prank(buyers[1]);
        market.stand(gameId, 1, 0);
    }

    function test_stand_revertsAfterDeadline() public {
        uint256 deadline = _deadline();
        vm.warp(deadline + 60);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTurnExpired.selector, gameId, deadline, deadline + 60));
        vm.prank(buyers[0]);
        market.stand(gameId, 1, 0);
    }

    function test_stand_revertsAfterGameEnded() public {
        _standRound();
        vm.expectRevert(_wrongPhase(IMarket.Phase.Ended));
        vm.prank(buyers[0]);
        market.stand(gameId, 1, 0);
    }

    // ---------------------------------------------------------------- skipTurn

    function test_skipTurn_keepsPreviousBid() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 100));
        vm.warp(_deadline() + 1);
        vm.expectEmit(address(market));
        emit IMarket.TurnSkipped(gameId, buyers[0], 2);
        vm.expectEmit(address(market));
        emit IMarket.TurnStarted(gameId, 2, buyers[1], block.timestamp + TURN);
        vm.prank(clock);
        market.skipTurn(gameId);
        assertEq(market.bidOf(gameId, buyers[0]), _list(300, 200));
        assertEq(_currentBuyer(gameId), buyers[1]);
    }

    function test_skipTurn_revertsWhenNotClock() public {
        vm.warp(_deadline() + 1);
        vm.expectRevert(_unauthorized(buyers[1], market.CLOCK_ROLE()));
        vm.prank(buyers[1]);
        market.skipTurn(gameId);
    }

    function test_skipTurn_revertsBeforeDeadline() public {
        uint256 deadline = _deadline();
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketTurnNotExpired.selector, gameId, deadline, deadline));
        vm.prank(clock);
        market.skipTurn(gameId);
    }

    function test_skipTurn_revertsWhenNotBidding() public {
        _standRound();
        vm.expectRevert(_wrongPhase(IMarket.Phase.Ended));
        vm.prank(clock);
        market.skipTurn(gameId);
    }

    // ---------------------------------------------------------------- ending

    function test_game_convergesAfterUnchangedRound() public {
        _bid(gameId, buyers[0], _list(300, 200));
        _bid(gameId, buyers[1], _list(100, 100));
        _bid(gameId, buyers[0], _list(300, 200)); // the same bid: no change
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 2, IMarket.EndReason.Converged);
        vm.prank(buyers[1]);
        market.stand(gameId, 2, 1);

        (,, IMarket.GameStatus memory status) = market.game(gameId);
        assertEq(uint256(status.phase), uint256(IMarket.Phase.Ended));
        assertEq(uint256(status.endReason), uint256(IMarket.EndReason.Converged));
        assertEq(status.round, 2);
        assertEq(market.gameState(gameId).currentBuyer, address(0));
        assertEq(market.allocation(gameId)[0], _list(300, 200));
    }

    function test_game_convergesWithinEpsilon() public {
        IMarket.GameParams memory params = _params();
        params.epsilon = 10;
        (uint256 id,, address[] memory players) = _startGame(params, _list(1_000), _list(100_000), _list(500, 500));
        _bid(id, players[0], _list(100));
        _bid(id, players[1], _list(100));
        _bid(id, players[0], _list(110)); // moved by exactly epsilon
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(id, 2, IMarket.EndReason.Converged);
        _bid(id, players[1], _list(90));
    }

    function test_game_continuesWhenChangeAboveEpsilon() public {
        IMarket.GameParams memory params = _params();
        params.epsilon = 10;
        (uint256 id,, address[] memory players) = _startGame(params, _list(1_000), _list(100_000), _list(500, 500));
        _bid(id, players[0], _list(100));
        _bid(id, players[1], _list(100));
        _bid(id, players[0], _list(111));
        _bid(id, players[1], _list(100));
        assertEq(market.gameState(id).status.round, 3);
        assertEq(uint256(market.phase(id)), uint256(IMarket.Phase.Bidding));
    }

    function test_game_endsAtRoundLimit() public {
        IMarket.GameParams memory params = _params();
        params.roundLimit = 2;
        (uint256 id,, address[] memory players) = _startGame(params, _list(1_000), _list(100_000), _list(500));
        _bid(id, players[0], _list(100));
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(id, 2, IMarket.EndReason.RoundLimit);
        _bid(id, players[0], _list(200));
        (,, IMarket.GameStatus memory status) = market.game(id);
        assertEq(uint256(status.endReason), uint256(IMarket.EndReason.RoundLimit));
    }

    function test_game_endsWhenEveryTurnIsSkipped() public {
        vm.startPrank(clock);
        vm.warp(_deadline() + 1);
        market.skipTurn(gameId);
        vm.warp(_deadline() + 1);
        vm.expectEmit(address(market));
        emit IMarket.GameEnded(gameId, 1, IMarket.EndReason.Converged);
        market.skipTurn(gameId);
        vm.stopPrank();
        assertEq(market.gameState(gameId).loads, _list(0, 0));
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev A random bid from the second buyer, after a valid random bid from the first, is
    /// accepted or refused exactly as the rules say, with the first failing value.
    function test_fuzz_bid_validation(uint256 seed, uint8 sellerCount, uint8 length, uint32 demand) public {
        uint256 s = bound(sellerCount, 1, 20);
        uint256 d = bound(demand, 1, 5_000);
        uint256[] memory capacities = new uint256[](s);
        for (uint256 j; j < s; ++j) {
            capacities[j] = bound(uint256(keccak256(abi.encode(seed, "cap", j))), 1, 1_000);
        }
        (uint256 id,, address[] memory players) = _startGame(_params(), capacities, _prices(s), _list(d, d));

        // the first buyer takes a valid share of every seller
        uint256[] memory first = new uint256[](s);
        uint256 left = d;
        for (uint256 j; j < s; ++j) {
            uint256 x = bound(uint256(keccak256(abi.encode(seed, "first", j))), 0, capacities[j]);
            if (x > left) x = left;
            first[j] = x;
            left -= x;
        }
        _bid(id, players[0], first);

        // the second buyer tries anything near the limits
        uint256 n = uint256(length) % 4 == 0 ? bound(length, 0, s + 1) : s;
        uint256[] memory amounts = new uint256[](n);
        for (uint256 j; j < n; ++j) {
            uint256 cap = j < s ? capacities[j] : 1_000;
            amounts[j] = bound(uint256(keccak256(abi.encode(seed, "second", j))), 0, cap + cap / 4);
        }
        bytes memory expected = _expectedError(n, s, amounts, d, first, capacities);
        if (expected.length != 0) vm.expectRevert(expected);
        _bidAt(id, players[1], 1, 1, amounts);

        if (expected.length == 0) {
            uint256[] memory loads = market.gameState(id).loads;
            for (uint256 j; j < s; ++j) {
                assertEq(loads[j], first[j] + amounts[j]);
                assertLe(loads[j], capacities[j]);
            }
        }
    }

    function _expectedError(
        uint256 n,
        uint256 s,
        uint256[] memory amounts,
        uint256 demand,
        uint256[] memory others,
        uint256[] memory capacities
    ) private pure returns (bytes memory) {
        if (n != s) {
            return abi.encodeWithSelector(IMarket.MarketBidLengthMismatch.selector, s, n);
        }
        uint256 total;
        for (uint256 j; j < s; ++j) {
            total += amounts[j];
        }
        if (total > demand) return abi.encodeWithSelector(IMarket.MarketBidExceedsDemand.selector, total, demand);
        for (uint256 j; j < s; ++j) {
            if (others[j] + amounts[j] > capacities[j]) {
                return abi.encodeWithSelector(
                    IMarket.MarketBidExceedsCapacity.selector, j, others[j] + amounts[j], capacities[j]
                );
            }
        }
        return "";
    }

    /// @dev Huge entries are refused by the demand check (saturating total), never by a panic.
    function test_fuzz_bid_refusesHugeEntries(uint256 a, uint256 b) public {
        a = bound(a, 801, type(uint256).max);
        uint256 total;
        unchecked {
            total = a + b < a ? type(uint256).max : a + b;
        }
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketBidExceedsDemand.selector, total, 800));
        _bidAt(gameId, buyers[0], 1, 0, _list(a, b));
    }

    /// @dev Over several rounds of random valid bids, the loads stay the sum of the current bids
    /// and the largest change of the round is tracked.
    function test_fuzz_bid_loadsTrackBids(uint256 seed) public {
        uint256 s = 12; // spans two packed words
        (uint256 id,, address[] memory players) = _startGame(12, 400, 3, 1_500);
        uint256[][] memory current = new uint256[][](3);
        for (uint256 i; i < 3; ++i) {
            current[i] = new uint256[](s);
        }
        for (uint256 turn; turn < 12; ++turn) {
            uint256 i = turn % 3;
            uint256[] memory loads = market.gameState(id).loads;
            uint256[] memory amounts = new uint256[](s);
            uint256 left = 1_500;
            for (uint256 j; j < s; ++j) {
                uint256 room = 400 - (loads[j] - current[i][j]);
                uint256 x = bound(uint256(keccak256(abi.encode(seed, turn, j))), 0, room);
                if (x > left) x = left;
                amounts[j] = x;
                left -= x;
            }
            _bid(id, players[i], amounts);
            current[i] = amounts;
            if (market.phase(id) != IMarket.Phase.Bidding) break;
            loads = market.gameState(id).loads;
            for (uint256 j; j < s; ++j) {
                assertEq(loads[j], current[0][j] + current[1][j] + current[2][j]);
            }
        }
    }
}
