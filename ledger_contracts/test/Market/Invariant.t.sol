// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";
import {MarketHandler} from "../utils/MarketHandler.sol";

/// @notice Stateful invariants over random sequences of clock, settlement, prosumer and outsider
/// actions driven by {MarketHandler}.
contract MarketInvariantTest is MarketFixture {
    MarketHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory prosumers = new address[](8);
        for (uint256 k; k < prosumers.length; ++k) {
            prosumers[k] = _newProsumer(0);
        }
        handler = new MarketHandler(market, operator, clock, settlement, stranger, prosumers);

        bytes4[] memory selectors = new bytes4[](11);
        selectors[0] = MarketHandler.openGame.selector;
        selectors[1] = MarketHandler.closeRegistration.selector;
        selectors[2] = MarketHandler.skipTurn.selector;
        selectors[3] = MarketHandler.warp.selector;
        selectors[4] = MarketHandler.recordMetering.selector;
        selectors[5] = MarketHandler.publishOffer.selector;
        selectors[6] = MarketHandler.publishDemand.selector;
        selectors[7] = MarketHandler.bid.selector;
        selectors[8] = MarketHandler.bid.selector; // bids are the point: twice the weight
        selectors[9] = MarketHandler.stand.selector;
        selectors[10] = MarketHandler.unauthorised.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));

        // one game already bidding (3 sellers, 5 buyers) and one open for registration, so
        // every run plays turns from its first call
        uint256 gameId = _openGame();
        for (uint256 k; k < 3; ++k) {
            _offer(gameId, prosumers[k], 400 + 300 * k, 100_000 + 10_000 * k);
        }
        for (uint256 k = 3; k < 8; ++k) {
            _demand(gameId, prosumers[k], 200 * k);
        }
        _closeRegistration(gameId);
        handler.openGame(300, 600, 3, 60, 0);
    }

    /// @dev Every seller's load is the sum of the current bids on it and within its capacity;
    /// every bid is within its buyer's demand.
    function invariant_loadsEqualSumOfBidsWithinCapacity() public view {
        uint256 games = market.gameCount();
        for (uint256 id = 1; id <= games; ++id) {
            IMarket.Offer[] memory offers = market.offers(id);
            IMarket.Demand[] memory demands = market.demands(id);
            uint256[][] memory rows = market.allocation(id);
            uint256[] memory loads = market.gameState(id).loads;
            for (uint256 j; j < offers.length; ++j) {
                uint256 sum;
                for (uint256 i; i < rows.length; ++i) {
                    sum += rows[i][j];
                }
                assertEq(loads[j], sum, "load != sum of bids");
                assertLe(loads[j], offers[j].wh, "load > capacity");
            }
            for (uint256 i; i < rows.length; ++i) {
                uint256 total;
                for (uint256 j; j < offers.length; ++j) {
                    total += rows[i][j];
                }
                assertLe(total, demands[i].wh, "bid > demand");
            }
        }
    }

    /// @dev A game ends within roundLimit x buyers turns: while bidding, fewer turns were
    /// played, and the status counts them exactly.
    function invariant_gameEndsWithinRoundLimitTimesBuyers() public view {
        uint256 games = market.gameCount();
        for (uint256 id = 1; id <= games; ++id) {
            (IMarket.GameParams memory params,, IMarket.GameStatus memory status) = market.game(id);
            uint256 played = handler.turnsPlayed(id);
            uint256 bound_ = uint256(params.roundLimit) * status.buyerCount;
            assertLe(played, bound_, "more turns than roundLimit x buyers");
            assertLe(status.round, params.roundLimit, "round above limit");
            if (status.phase == IMarket.Phase.Bidding) {
                assertLt(played, bound_, "still bidding after the last turn");
                assertEq(played, (uint256(status.round) - 1) * status.buyerCount + status.turn, "turn count");
            }
            if (status.phase == IMarket.Phase.Ended && status.endReason == IMarket.EndReason.RoundLimit) {
                assertEq(played, bound_, "round limit before the last turn");
            }
        }
    }

    /// @dev Bidding is bounded by the delivery end: a bidding game's turn ends before it, the
    /// first turn transition from then on ends the game, and only then for `TimeLimit`; no bid
    /// for another round or turn was ever applied.
    function invariant_biddingEndsByDeliveryEnd() public view {
        uint256 games = market.gameCount();
        for (uint256 id = 1; id <= games; ++id) {
            (IMarket.GameParams memory params,, IMarket.GameStatus memory status) = market.game(id);
            if (status.phase == IMarket.Phase.Bidding) {
                assertLt(status.turnDeadline, params.deliveryEnd, "a turn ends after the delivery end");
            }
        }
        assertEq(handler.lateTurnsNotEnding(), 0, "a turn played after the delivery end");
        assertEq(handler.staleAccepted(), 0, "a stale bid was applied");
    }

    /// @dev No call from a caller without the needed role ever succeeded.
    function invariant_onlyListedRolesChangeState() public view {
        assertEq(handler.unauthorisedSuccesses(), 0, "an unauthorised call succeeded");
    }
}
