// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {Market} from "../../src/Market.sol";
import {Vm} from "./Vm.sol";

/// @notice What the invariant handlers share (Morpho-style): the market and its actors, the
/// prosumers to act for, seeded choices, and the count of calls by callers lacking the role they
/// need (any that succeeds is a violation).
abstract contract HandlerBase {
    // forge-std's name for the cheatcodes, which every test reads as `vm`.
    // forge-lint: disable-next-line(screaming-snake-case-const)
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant MAX_GAMES = 4;

    Market public immutable market;
    address public immutable operator;
    address public immutable clock;
    address public immutable stranger;
    address[] internal _prosumers;

    /// @dev Calls by callers without the needed role that did not revert (must stay 0).
    uint256 public unauthorisedSuccesses;
    uint256 public unauthorisedAttempts;

    constructor(Market market_, address operator_, address clock_, address stranger_, address[] memory prosumers_) {
        market = market_;
        operator = operator_;
        clock = clock_;
        stranger = stranger_;
        _prosumers = prosumers_;
    }

    /// @dev Calls `target` with `data` as `caller`, who lacks the role the call needs, and counts it.
    function _tryUnauthorised(address caller, address target, bytes memory data) internal {
        ++unauthorisedAttempts;
        vm.prank(caller);
        (bool ok,) = target.call(data);
        if (ok) ++unauthorisedSuccesses;
    }

    /// @dev The clock closes the registration of a seeded game that is registering (waiting out
    /// its window first); `found` is false if no game is.
    function _closeRegistration(uint256 seed) internal returns (uint256 gameId, bool found) {
        (gameId, found) = _gameIn(seed, IMarket.Phase.Registration);
        if (!found) return (gameId, found);
        (IMarket.GameParams memory params,,) = market.game(gameId);
        if (block.timestamp < params.registrationEnd) vm.warp(params.registrationEnd);
        vm.prank(clock);
        market.closeRegistration(gameId);
    }

    /// @dev The first game in market `phase`, starting from a seeded game id.
    function _gameIn(uint256 seed, IMarket.Phase phase) internal view returns (uint256 gameId, bool found) {
        uint256 count = market.gameCount();
        for (uint256 k; k < count; ++k) {
            gameId = (seed % count + k) % count + 1;
            if (market.phase(gameId) == phase) return (gameId, true);
        }
        return (0, false);
    }

    function _prosumer(uint256 seed) internal view returns (address) {
        return _prosumers[seed % _prosumers.length];
    }

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + x % (max - min + 1);
    }
}
