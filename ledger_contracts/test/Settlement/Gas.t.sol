// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "../../src/IMarket.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @notice Gas of settlement, each call as in its own transaction (storage made cold before it).
/// Execution gas only. Run with `-vv` for the numbers. Every call a game needs is bounded by its
/// chunk (fixTrades: a seller costs a constant, a buyer one trade per seller; closeGame: a buyer
/// one delivered trade per seller, the income and a seller a constant) or constant (a reading),
/// so the tests at the Market's own limits (MAX_SELLERS sellers, MAX_BUYERS buyers) show that
/// any game it accepts settles with every call within half a block. Building a game at those
/// limits costs more than a test's gas, so only the measured calls are metered.
contract SettlementGasTest is SettlementFixture {
    uint256 internal constant HALF_BLOCK = BLOCK_GAS_LIMIT / 2;

    /// @dev The largest gas of each kind of call while a game settles.
    struct Figures {
        uint256 pricing; // fixTrades, a chunk of sellers
        uint256 fixing; // fixTrades, a chunk of buyers
        uint256 reading; // postReading
        uint256 closingBuyers; // closeGame, a chunk of buyers
        uint256 closingSellers; // closeGame, a chunk with the income and sellers
    }

    /// @dev A game of `buyerCount` x `sellerCount` over three zones, one round of bids splitting
    /// each demand by free room (round limit 1), bidding ended. Each seller offers `sellerWh`,
    /// buyer i demands `demandWh + 37 i`.
    function _bigGame(uint256 buyerCount, uint256 sellerCount, uint256 sellerWh, uint256 demandWh)
        internal
        returns (uint256 gameId, address[] memory sellers, address[] memory buyers)
    {
        _lineHops();
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        gameId = _openGame(params);
        sellers = new address[](sellerCount);
        for (uint256 j; j < sellerCount; ++j) {
            sellers[j] = _newProsumer(SafeCast.toUint16(j % 3)); // zones 0..2
            _offer(gameId, sellers[j], sellerWh, 60_000 + (4_000 * j) % 200_000);
        }
        buyers = new address[](buyerCount);
        for (uint256 i; i < buyerCount; ++i) {
            buyers[i] = _newProsumer(SafeCast.toUint16(i % 3)); // zones 0..2
            _demand(gameId, buyers[i], demandWh + 37 * i);
        }
        _closeRegistration(gameId);
        while (market.phase(gameId) == IMarket.Phase.Bidding) {
            this.bidTurn(gameId); // its own call frame: memory does not pile up over 1,000 bids
        }
    }

    /// @dev Plays the current turn of `gameId` with a bid splitting the demand by free room.
    function bidTurn(uint256 gameId) external {
        vm.pauseGasMetering();
        _bid(gameId, _currentBuyer(gameId), _proportionalBid(gameId));
    }

    function _cool() internal {
        vm.resumeGasMetering(); // paused again by {_paused}
        vm.cool(address(market));
        vm.cool(address(settler));
        vm.cool(address(token));
    }

    function _measuredFix(uint256 gameId, uint256 chunk) internal returns (uint256 used) {
        _cool();
        used = gasleft();
        settler.fixTrades(gameId, chunk);
        used -= gasleft();
        vm.pauseGasMetering();
    }

    function _measuredRead(uint256 gameId, address account, uint256 produced, uint256 consumed)
        internal
        returns (uint256 used)
    {
        _cool();
        vm.prank(meter);
        used = gasleft();
        settler.postReading(gameId, account, produced, consumed);
        used -= gasleft();
        vm.pauseGasMetering();
    }

    function _measuredClose(uint256 gameId, uint256 chunk) internal returns (uint256 used) {
        _cool();
        vm.prank(clock);
        used = gasleft();
        settler.closeGame(gameId, chunk);
        used -= gasleft();
        vm.pauseGasMetering();
    }

    function _max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    /// @dev Settles a game from its fixing to its close: sellers priced `sellerChunk` at a time,
    /// buyers fixed `buyerChunk` at a time; every participant read (sellers their offer, buyers
    /// their demand, so some trades fall short and some buyers import); closed `buyerChunk` buyers
    /// at a time, then the income and sellers `sellerChunk` at a time. Returns the largest gas of
    /// each kind of call.
    function _settle(
        uint256 gameId,
        address[] memory sellers,
        address[] memory buyers,
        uint256 sellerChunk,
        uint256 buyerChunk
    ) internal returns (Figures memory f) {
        for (uint256 j; j < sellers.length; j += sellerChunk) {
            f.pricing = _max(f.pricing, _measuredFix(gameId, sellerChunk));
        }
        while (_status(gameId) != 2) {
            // TradesFixed
            f.fixing = _max(f.fixing, _measuredFix(gameId, buyerChunk));
        }
        IMarket.Offer[] memory offers = market.offers(gameId);
        for (uint256 j; j < sellers.length; ++j) {
            f.reading = _max(f.reading, _measuredRead(gameId, sellers[j], offers[j].wh * 3 / 4, 0));
        }
        IMarket.Demand[] memory demands = market.demands(gameId);
        for (uint256 i; i < demands.length; ++i) {
            f.reading = _max(f.reading, _measuredRead(gameId, demands[i].buyer, 0, demands[i].wh));
        }
        _warpToDeliveryEnd(gameId);
        // a buyer is one item per 128 sellers
        uint256 buyerItems = buyers.length * (sellers.length == 0 ? 1 : (sellers.length + 127) / 128);
        for (uint256 i; i < buyerItems; i += buyerChunk) {
            uint256 chunk = buyerItems - i < buyerChunk ? buyerItems - i : buyerChunk;
            f.closingBuyers = _max(f.closingBuyers, _measuredClose(gameId, chunk));
        }
        while (_status(gameId) != 4) {
            // Closed
            f.closingSellers = _max(f.closingSellers, _measuredClose(gameId, sellerChunk));
        }
        assertEq(_status(gameId), 4, "not closed"); // Closed
        assertEq(token.balanceOf(address(settler)), 0);
    }

    function _log(string memory game, Figures memory f) internal {
        emit log_named_uint(string.concat(game, ": fixTrades, chunk of sellers (max)"), f.pricing);
        emit log_named_uint(string.concat(game, ": fixTrades, chunk of buyers (max)"), f.fixing);
        emit log_named_uint(string.concat(game, ": postReading (max)"), f.reading);
        emit log_named_uint(string.concat(game, ": closeGame, chunk of buyers (max)"), f.closingBuyers);
        emit log_named_uint(string.concat(game, ": closeGame, income and sellers (max)"), f.closingSellers);
    }

    function _assertWithin(Figures memory f, uint256 limit) internal pure {
        assertLt(f.pricing, limit, "fixTrades (sellers)");
        assertLt(f.fixing, limit, "fixTrades (buyers)");
        assertLt(f.reading, limit, "postReading");
        assertLt(f.closingBuyers, limit, "closeGame (buyers)");
        assertLt(f.closingSellers, limit, "closeGame (sellers)");
    }

    /// @dev 50 x 20, every step in one call but the readings.
    function test_gas_settlement_50x20() public {
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(50, 20, 20_000, 1_000);
        Figures memory f = _settle(gameId, sellers, buyers, 20, 50);
        _log("settlement 50x20", f);
        _assertWithin(f, HALF_BLOCK);
        assertLt(f.reading, 100_000);
    }

    /// @dev 200 x 20: buyers in chunks of 50.
    function test_gas_settlement_200x20() public {
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(200, 20, 20_000, 1_000);
        Figures memory f = _settle(gameId, sellers, buyers, 20, 50);
        _log("settlement 200x20", f);
        _assertWithin(f, HALF_BLOCK);
        assertLt(f.reading, 100_000);
    }

    /// @dev A reading costs the same whoever read before: a seller read after all 200 buyers.
    function test_gas_settlement_200x20_sellerReadingAfterAllBuyers() public {
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(200, 20, 20_000, 1_000);
        while (!settler.fixTrades(gameId, 100)) {}
        for (uint256 i; i < buyers.length; ++i) {
            _read(gameId, buyers[i], 0, 1_000 + 37 * i);
        }
        uint256 used = _measuredRead(gameId, sellers[0], 20_000, 0);
        emit log_named_uint("settlement 200x20: seller reading after 200 buyers", used);
        assertLt(used, 100_000);
    }

    /// @dev 300 x 100, each buyer trading with every seller: sellers priced 50 at a time, buyers
    /// fixed and closed 10 at a time. No call of settlement grows with the number of buyers (only
    /// the chunk does), so these are also the per-call figures of 900 x 100, the 1,000-prosumer
    /// market; a Forge test cannot build 900 bids of 100 sellers within its 2^30 gas
    /// (`bench/bench_settlement.py` measures it on Anvil).
    function test_gas_settlement_300x100() public {
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(300, 100, 200_000, 1_000);
        Figures memory f = _settle(gameId, sellers, buyers, 50, 10);
        _log("settlement 300x100", f);
        _assertWithin(f, HALF_BLOCK);
    }

    /// @dev The Market's seller limit: MAX_SELLERS sellers and 4 buyers, each buying from every
    /// seller (1,024 trades a buyer, the most a buyer can have, 8 items of 128 sellers each):
    /// sellers priced 64 at a time, buyers fixed and closed 2 items (256 trades) at a time. Every
    /// call within half a block.
    function test_gas_settlement_maxSellers() public {
        uint256 sellerCount = market.MAX_SELLERS();
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) =
            _bigGame(4, sellerCount, 1_000, 2 * sellerCount);
        assertGt(market.bidOf(gameId, buyers[3])[sellerCount - 1], 0); // every buyer trades with every seller
        Figures memory f = _settle(gameId, sellers, buyers, 64, 2);
        _log("settlement 4x1024", f);
        _assertWithin(f, HALF_BLOCK);
    }

    /// @dev The Market's buyer limit: MAX_BUYERS buyers and 4 sellers: buyers fixed and closed
    /// 100 at a time. Every call within half a block.
    function test_gas_settlement_maxBuyers() public {
        uint256 buyerCount = market.MAX_BUYERS();
        vm.pauseGasMetering();
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(buyerCount, 4, 20_000, 10);
        Figures memory f = _settle(gameId, sellers, buyers, 4, 100);
        _log("settlement 1024x4", f);
        _assertWithin(f, HALF_BLOCK);
    }
}
