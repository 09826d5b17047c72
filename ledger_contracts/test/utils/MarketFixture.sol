// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {GridForwarder} from "../../src/GridForwarder.sol";
import {IMarket} from "../../src/IMarket.sol";
import {Market} from "../../src/Market.sol";
import {Test} from "./Test.sol";

/// @notice The one deployer fixture: a GridForwarder and a Market with an operator, a clock and a
/// settlement account holding their roles, grid prices set, and helpers to admit prosumers and
/// drive games to any phase.
abstract contract MarketFixture is Test {
    uint256 internal constant RETAIL = 300_000; // 0.30 token per kWh
    uint256 internal constant FEED_IN = 50_000; // 0.05 token per kWh
    uint64 internal constant REGISTRATION = 1 hours;
    uint32 internal constant TURN = 60;
    /// @dev The block gas limit the gas tests budget against.
    uint256 internal constant BLOCK_GAS_LIMIT = 30_000_000;

    /// @dev Figures the gas and invariant tests print with `-vv`.
    event log_named_uint(string key, uint256 val);

    GridForwarder internal forwarder;
    Market internal market;

    address internal operator;
    address internal clock;
    address internal settlement;
    address internal stranger;

    uint256 private _prosumerNonce;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        operator = makeAddr("operator");
        clock = makeAddr("clock");
        settlement = makeAddr("settlement");
        stranger = makeAddr("stranger");

        forwarder = new GridForwarder();
        market = new Market(operator, address(forwarder));

        vm.startPrank(operator);
        market.grantRole(market.CLOCK_ROLE(), clock);
        market.grantRole(market.SETTLEMENT_ROLE(), settlement);
        market.setGridPrices(RETAIL, FEED_IN);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- prosumers

    /// @dev Admits a fresh prosumer in `zone`; its meter id is derived from its name.
    function _newProsumer(uint16 zone) internal returns (address account) {
        uint256 key;
        (account, key) = _newProsumerWithKey(zone);
    }

    function _newProsumerWithKey(uint16 zone) internal returns (address account, uint256 key) {
        string memory name = string.concat("prosumer-", _toString(++_prosumerNonce));
        (account, key) = makeAddrAndKey(name);
        vm.prank(operator);
        market.admit(account, _meterId(account), zone);
    }

    function _meterId(address account) internal pure returns (bytes32) {
        return keccak256(abi.encode("meter", account));
    }

    // ---------------------------------------------------------------- games

    function _params() internal view returns (IMarket.GameParams memory) {
        return IMarket.GameParams({
            registrationEnd: uint64(block.timestamp) + REGISTRATION,
            deliveryEnd: uint64(block.timestamp) + 2 * REGISTRATION,
            roundLimit: 10,
            turnSeconds: TURN,
            epsilon: 0
        });
    }

    function _openGame() internal returns (uint256 gameId) {
        return _openGame(_params());
    }

    function _openGame(IMarket.GameParams memory params) internal returns (uint256 gameId) {
        vm.prank(clock);
        gameId = market.openGame(params);
    }

    function _offer(uint256 gameId, address seller, uint256 wh, uint256 price) internal {
        vm.prank(seller);
        market.publishOffer(gameId, wh, price);
    }

    function _demand(uint256 gameId, address buyer, uint256 wh) internal virtual {
        vm.prank(buyer);
        market.publishDemand(gameId, wh);
    }

    function _closeRegistration(uint256 gameId) internal {
        (IMarket.GameParams memory params,,) = market.game(gameId);
        if (block.timestamp < params.registrationEnd) vm.warp(params.registrationEnd);
        vm.prank(clock);
        market.closeRegistration(gameId);
    }

    /// @dev Opens a game with `params`, registers fresh sellers and buyers (all in zone 0) and
    /// closes registration. Buyers have no metering history, so they play in admission order.
    function _startGame(
        IMarket.GameParams memory params,
        uint256[] memory capacities,
        uint256[] memory prices,
        uint256[] memory demandsWh
    ) internal returns (uint256 gameId, address[] memory sellers, address[] memory buyers) {
        gameId = _openGame(params);
        sellers = new address[](capacities.length);
        for (uint256 j; j < capacities.length; ++j) {
            sellers[j] = _newProsumer(0);
            _offer(gameId, sellers[j], capacities[j], prices[j]);
        }
        buyers = new address[](demandsWh.length);
        for (uint256 i; i < demandsWh.length; ++i) {
            buyers[i] = _newProsumer(0);
            _demand(gameId, buyers[i], demandsWh[i]);
        }
        _closeRegistration(gameId);
    }

    /// @dev A game of `sellerCount` sellers (capacity `capacity`, prices 100_000 + 1_000 j) and
    /// `buyerCount` buyers (demand `demand`), in the bidding phase.
    function _startGame(uint256 sellerCount, uint256 capacity, uint256 buyerCount, uint256 demand)
        internal
        returns (uint256 gameId, address[] memory sellers, address[] memory buyers)
    {
        return _startGame(_params(), _filled(sellerCount, capacity), _prices(sellerCount), _filled(buyerCount, demand));
    }

    /// @dev `buyer` bids `amounts` for the game's current round and turn (read before the call:
    /// after `vm.expectRevert`, use `_bidAt`, since the read would be the expected call).
    function _bid(uint256 gameId, address buyer, uint256[] memory amounts) internal {
        IMarket.GameStatus memory status = market.gameState(gameId).status;
        _bidAt(gameId, buyer, status.round, status.turn, amounts);
    }

    /// @dev `buyer` bids `amounts` for turn `turn` of round `round`.
    function _bidAt(uint256 gameId, address buyer, uint256 round, uint256 turn, uint256[] memory amounts) internal {
        vm.prank(buyer);
        market.bid(gameId, round, turn, amounts);
    }

    /// @dev `buyer` stands for the game's current round and turn (read before the call).
    function _stand(uint256 gameId, address buyer) internal {
        IMarket.GameStatus memory status = market.gameState(gameId).status;
        vm.prank(buyer);
        market.stand(gameId, status.round, status.turn);
    }

    function _currentBuyer(uint256 gameId) internal view returns (address) {
        return market.gameState(gameId).currentBuyer;
    }

    /// @dev The current buyer's demand split over the sellers in proportion to their free room.
    function _proportionalBid(uint256 gameId) internal view returns (uint256[] memory amounts) {
        IMarket.GameState memory state = market.gameState(gameId);
        IMarket.Offer[] memory offers = market.offers(gameId);
        uint256 demand = market.demands(gameId)[state.status.turn].wh;
        amounts = new uint256[](offers.length);
        uint256 room;
        for (uint256 j; j < offers.length; ++j) {
            amounts[j] = offers[j].wh - (state.loads[j] - state.currentBid[j]);
            room += amounts[j];
        }
        if (room > demand) {
            for (uint256 j; j < offers.length; ++j) {
                amounts[j] = amounts[j] * demand / room;
            }
        }
    }

    // ---------------------------------------------------------------- arrays

    function _filled(uint256 length, uint256 value) internal pure returns (uint256[] memory values) {
        values = new uint256[](length);
        for (uint256 k; k < length; ++k) {
            values[k] = value;
        }
    }

    function _prices(uint256 length) internal pure returns (uint256[] memory values) {
        values = new uint256[](length);
        for (uint256 k; k < length; ++k) {
            values[k] = 100_000 + 1_000 * k;
        }
    }

    function _list(uint256 a) internal pure returns (uint256[] memory values) {
        values = new uint256[](1);
        values[0] = a;
    }

    function _list(uint256 a, uint256 b) internal pure returns (uint256[] memory values) {
        values = new uint256[](2);
        (values[0], values[1]) = (a, b);
    }

    function _list(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory values) {
        values = new uint256[](3);
        (values[0], values[1], values[2]) = (a, b, c);
    }

    // ---------------------------------------------------------------- errors

    function _unauthorized(address account, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role);
    }

    function _toString(uint256 value) internal pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) {
            ++digits;
        }
        bytes memory buffer = new bytes(digits);
        for (; value != 0; value /= 10) {
            buffer[--digits] = bytes1(uint8(48 + (value % 10)));
        }
        return string(buffer);
    }
}
