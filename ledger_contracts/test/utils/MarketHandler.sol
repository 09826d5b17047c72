// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {Market} from "../../src/Market.sol";
import {HandlerBase} from "./HandlerBase.sol";

/// @notice Drives a Market with bounded random actions of the clock, settlement and prosumers
/// (Morpho-style handler), keeps ghost counts of what happened, and tries actions from callers
/// that lack the role: any of those succeeding is recorded as a violation.
contract MarketHandler is HandlerBase {
    address public immutable settlement;

    /// @dev Turns played (bid, stand or skip) per game.
    mapping(uint256 gameId => uint256) public turnsPlayed;
    uint256 public bidsAccepted;
    uint256 public bidsRefused;
    uint256 public gamesEnded;
    /// @dev Bids for another round or turn than the current one that were accepted (must stay 0).
    uint256 public staleAccepted;
    uint256 public staleAttempts;
    /// @dev Turn transitions (bid, stand, skip) at or after a game's delivery end that left it
    /// bidding (must stay 0: the first one ends it).
    uint256 public lateTurnsNotEnding;
    uint256 public timeLimitEndings;

    constructor(
        Market market_,
        address operator_,
        address clock_,
        address settlement_,
        address stranger_,
        address[] memory prosumers_
    ) HandlerBase(market_, operator_, clock_, stranger_, prosumers_) {
        settlement = settlement_;
    }

    function prosumers() external view returns (address[] memory) {
        return _prosumers;
    }

    // ---------------------------------------------------------------- clock

    function openGame(uint256 registration, uint256 delivery, uint256 roundLimit, uint256 turnSeconds, uint256 epsilon)
        external
    {
        if (market.gameCount() >= MAX_GAMES) return;
        uint64 end = uint64(block.timestamp + _bound(registration, 1, 600));
        IMarket.GameParams memory params = IMarket.GameParams({
            registrationEnd: end,
            deliveryEnd: end + uint64(_bound(delivery, 60, 1_800)),
            roundLimit: uint32(_bound(roundLimit, 1, 4)),
            turnSeconds: uint32(_bound(turnSeconds, 30, 120)),
            epsilon: uint64(_bound(epsilon, 0, 50))
        });
        vm.prank(clock);
        market.openGame(params);
    }

    function closeRegistration(uint256 gameSeed) external {
        (uint256 gameId, bool found) = _closeRegistration(gameSeed);
        if (found && market.phase(gameId) == IMarket.Phase.Ended) ++gamesEnded;
    }

    function skipTurn(uint256 gameSeed) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Bidding);
        if (!found) return;
        uint256 deadline = market.gameState(gameId).status.turnDeadline;
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
        vm.prank(clock);
        market.skipTurn(gameId);
        _turnPlayed(gameId);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 0, 45));
    }

    // ---------------------------------------------------------------- settlement

    function recordMetering(uint256 actorSeed, uint256 producedWh, uint256 consumedWh) external {
        vm.prank(settlement);
        market.recordMetering(_prosumer(actorSeed), _bound(producedWh, 0, 1e9), _bound(consumedWh, 0, 1e9));
    }

    // ---------------------------------------------------------------- prosumers

    function publishOffer(uint256 gameSeed, uint256 actorSeed, uint256 wh, uint256 price) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Registration);
        if (!found) return;
        (, IMarket.GamePrices memory prices,) = market.game(gameId);
        vm.prank(_prosumer(actorSeed));
        try market.publishOffer(gameId, _bound(wh, 1, 2_000), _bound(price, 1, prices.retail - 1)) {} catch {}
    }

    function publishDemand(uint256 gameSeed, uint256 actorSeed, uint256 wh) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Registration);
        if (!found) return;
        vm.prank(_prosumer(actorSeed));
        try market.publishDemand(gameId, _bound(wh, 1, 3_000)) {} catch {}
    }

    /// @dev The current buyer bids: a valid vector (within capacities and demand), or one time in
    /// five a wild one (anything up to twice the room); refusals are counted, not fatal. One time
    /// in seven the bid names another round or turn (delayed, or computed ahead): it must be refused.
    function bid(uint256 gameSeed, uint256 amountSeed) external {
        bool wild = amountSeed % 5 == 0;
        bool stale = amountSeed % 7 == 1;
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Bidding);
        if (!found) return;
        IMarket.GameState memory state = market.gameState(gameId);
        IMarket.Offer[] memory offers = market.offers(gameId);
        uint256 left = market.demands(gameId)[state.status.turn].wh;
        uint256[] memory amounts = new uint256[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            uint256 room = offers[j].wh - (state.loads[j] - state.currentBid[j]);
            uint256 r = uint256(keccak256(abi.encode(amountSeed, j)));
            uint256 x = wild ? r % (2 * room + 2) : r % (room + 1);
            if (!wild && x > left) x = left;
            if (!wild) left -= x;
            amounts[j] = x;
        }
        (uint256 round, uint256 turn) = (state.status.round, state.status.turn);
        if (stale) {
            uint256 k = amountSeed % 3;
            if (k == 0) ++round;
            else if (k == 1 && round > 1) --round;
            else turn = (turn + 1) % (uint256(state.status.buyerCount) + 1);
            if (round == state.status.round && turn == state.status.turn) ++turn;
            ++staleAttempts;
        }
        vm.prank(state.currentBuyer);
        try market.bid(gameId, round, turn, amounts) {
            ++bidsAccepted;
            if (stale) ++staleAccepted;
            _turnPlayed(gameId);
        } catch {
            ++bidsRefused;
        }
    }

    function stand(uint256 gameSeed) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Bidding);
        if (!found) return;
        IMarket.GameState memory state = market.gameState(gameId);
        vm.prank(state.currentBuyer);
        try market.stand(gameId, state.status.round, state.status.turn) {
            _turnPlayed(gameId);
        } catch {}
    }

    // ---------------------------------------------------------------- outsiders

    /// @dev One state-changing call by a caller that lacks the role it needs; must revert.
    function unauthorised(uint256 which, uint256 actorSeed, uint256 gameSeed) external {
        address prosumer = _prosumer(actorSeed);
        uint256 gameId = _bound(gameSeed, 1, MAX_GAMES);
        address caller;
        bytes memory data;
        which = which % 12;
        if (which == 0) {
            (caller, data) = (stranger, abi.encodeCall(market.admit, (stranger, bytes32(which + 1), 0)));
        } else if (which == 1) {
            (caller, data) = (clock, abi.encodeCall(market.setGridPrices, (2, 1)));
        } else if (which == 2) {
            (caller, data) = (prosumer, abi.encodeCall(market.setTransmissionFee, (1)));
        } else if (which == 3) {
            (caller, data) = (operator, abi.encodeCall(market.closeRegistration, (gameId)));
        } else if (which == 4) {
            (caller, data) = (settlement, abi.encodeCall(market.skipTurn, (gameId)));
        } else if (which == 5) {
            (caller, data) = (clock, abi.encodeCall(market.recordMetering, (prosumer, 1, 1)));
        } else if (which == 6) {
            (caller, data) = (stranger, abi.encodeCall(market.publishOffer, (gameId, 1, 1)));
        } else if (which == 7) {
            (caller, data) = (operator, abi.encodeCall(market.publishDemand, (gameId, 1)));
        } else if (which == 8) {
            (caller, data) = (prosumer, abi.encodeCall(market.revoke, (prosumer)));
        } else if (which == 9) {
            (caller, data) = (prosumer, abi.encodeCall(market.grantRole, (bytes32(0), prosumer)));
        } else {
            // a buyer (or anyone) other than the current one tries to play the turn
            if (market.phase(gameId) != IMarket.Phase.Bidding) return;
            if (prosumer == market.gameState(gameId).currentBuyer) return;
            caller = prosumer;
            IMarket.GameStatus memory status = market.gameState(gameId).status;
            data = which == 10
                ? abi.encodeCall(market.stand, (gameId, status.round, status.turn))
                : abi.encodeCall(
                    market.bid, (gameId, status.round, status.turn, new uint256[](market.offers(gameId).length))
                );
        }
        _tryUnauthorised(caller, address(market), data);
    }

    // ---------------------------------------------------------------- helpers

    function _turnPlayed(uint256 gameId) private {
        ++turnsPlayed[gameId];
        (IMarket.GameParams memory params,, IMarket.GameStatus memory status) = market.game(gameId);
        if (status.phase == IMarket.Phase.Ended) ++gamesEnded;
        if (status.endReason == IMarket.EndReason.TimeLimit) ++timeLimitEndings;
        if (block.timestamp >= params.deliveryEnd && status.phase == IMarket.Phase.Bidding) ++lateTurnsNotEnding;
    }
}
