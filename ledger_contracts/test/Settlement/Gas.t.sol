// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "../../src/IMarket.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @notice Gas of settlement at 50 x 20 and 200 x 20, each call as in its own transaction
/// (storage made cold before it). Execution gas only. Run with `-vv` for the numbers; the
/// assertions are regression budgets and show that every chunk fits well within a block.
contract SettlementGasTest is SettlementFixture {
    /// @dev A game of `buyerCount` x `sellerCount` over three zones, one round of bids splitting
    /// each demand by free room (round limit 1), bidding ended.
    function _bigGame(uint256 buyerCount, uint256 sellerCount)
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
            _offer(gameId, sellers[j], 20_000, 60_000 + 4_000 * j);
        }
        buyers = new address[](buyerCount);
        for (uint256 i; i < buyerCount; ++i) {
            buyers[i] = _newProsumer(SafeCast.toUint16(i % 3)); // zones 0..2
            _demand(gameId, buyers[i], 1_000 + 37 * i);
        }
        _closeRegistration(gameId);
        while (market.phase(gameId) == IMarket.Phase.Bidding) {
            _bid(gameId, _currentBuyer(gameId), _proportionalBid(gameId));
        }
    }

    function _measuredFix(uint256 gameId, uint256 chunk) internal returns (uint256 used) {
        vm.cool(address(market));
        vm.cool(address(settler));
        vm.cool(address(token));
        used = gasleft();
        settler.fixTrades(gameId, chunk);
        used -= gasleft();
    }

    function _measuredRead(uint256 gameId, address account, uint256 produced, uint256 consumed)
        internal
        returns (uint256 used)
    {
        vm.cool(address(market));
        vm.cool(address(settler));
        vm.cool(address(token));
        vm.prank(meter);
        used = gasleft();
        settler.postReading(gameId, account, produced, consumed);
        used -= gasleft();
    }

    function _measuredClose(uint256 gameId, uint256 chunk) internal returns (uint256 used) {
        vm.cool(address(market));
        vm.cool(address(settler));
        vm.cool(address(token));
        vm.prank(clock);
        used = gasleft();
        settler.closeGame(gameId, chunk);
        used -= gasleft();
    }

    /// @dev 50 x 20: trades fixed in one call; buyers read first, then sellers (each seller's
    /// reading pays its trades with every buyer in one transfer); closed in one call.
    function test_gas_settlement_50x20() public {
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(50, 20);
        uint256 fix = _measuredFix(gameId, 50);
        uint256 buyerReading;
        for (uint256 i; i < buyers.length; ++i) {
            uint256 used = _measuredRead(gameId, buyers[i], 0, 1_000 + 37 * i);
            if (used > buyerReading) buyerReading = used;
        }
        uint256 sellerReading;
        for (uint256 j; j < sellers.length; ++j) {
            uint256 used = _measuredRead(gameId, sellers[j], 20_000, 0);
            if (used > sellerReading) sellerReading = used;
        }
        _warpToDeliveryEnd(gameId);
        uint256 close = _measuredClose(gameId, CHUNK);
        emit log_named_uint("settlement 50x20: fixTrades (one call)", fix);
        emit log_named_uint("settlement 50x20: buyer reading, no seller read yet (max)", buyerReading);
        emit log_named_uint("settlement 50x20: seller reading paying 50 buyers (max)", sellerReading);
        emit log_named_uint("settlement 50x20: closeGame (one call)", close);
        assertLt(fix, 10_000_000);
        assertLt(sellerReading, 3_500_000);
        assertLt(close, 8_000_000);
        assertEq(token.balanceOf(address(settler)), 0);
    }

    /// @dev 200 x 20: trades fixed in chunks of 50 buyers; sellers read first, then buyers (each
    /// buyer's reading pays its 20 sellers); closed in chunks of 60 items.
    function test_gas_settlement_200x20() public {
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(200, 20);
        uint256 fixMax;
        for (uint256 k; k < 4; ++k) {
            uint256 used = _measuredFix(gameId, 50);
            if (used > fixMax) fixMax = used;
        }
        uint256 sellerReading;
        for (uint256 j; j < sellers.length; ++j) {
            uint256 used = _measuredRead(gameId, sellers[j], 20_000, 0);
            if (used > sellerReading) sellerReading = used;
        }
        uint256 buyerReading;
        for (uint256 i; i < buyers.length; ++i) {
            uint256 used = _measuredRead(gameId, buyers[i], 0, 1_000 + 37 * i);
            if (used > buyerReading) buyerReading = used;
        }
        _warpToDeliveryEnd(gameId);
        uint256 closeMax;
        for (uint256 k; k < 4; ++k) {
            uint256 used = _measuredClose(gameId, 60);
            if (used > closeMax) closeMax = used;
        }
        emit log_named_uint("settlement 200x20: fixTrades, chunk of 50 buyers (max)", fixMax);
        emit log_named_uint("settlement 200x20: seller reading, no buyer read yet (max)", sellerReading);
        emit log_named_uint("settlement 200x20: buyer reading paying 20 sellers (max)", buyerReading);
        emit log_named_uint("settlement 200x20: closeGame, chunk of 60 items (max)", closeMax);
        assertLt(fixMax, BLOCK_GAS_LIMIT / 3);
        assertLt(buyerReading, 1_000_000);
        assertLt(closeMax, BLOCK_GAS_LIMIT / 3);
        assertEq(token.balanceOf(address(settler)), 0);
    }

    /// @dev The worst single reading at 200 x 20: a seller read after every buyer, paying 200 trades.
    function test_gas_settlement_200x20_sellerReadingAfterAllBuyers() public {
        (uint256 gameId, address[] memory sellers, address[] memory buyers) = _bigGame(200, 20);
        for (uint256 k; k < 4; ++k) {
            settler.fixTrades(gameId, 50);
        }
        for (uint256 i; i < buyers.length; ++i) {
            _read(gameId, buyers[i], 0, 1_000 + 37 * i);
        }
        uint256 used = _measuredRead(gameId, sellers[0], 20_000, 0);
        emit log_named_uint("settlement 200x20: seller reading paying 200 buyers", used);
        assertLt(used, BLOCK_GAS_LIMIT / 3);
    }
}
