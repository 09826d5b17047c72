// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {Vm} from "../utils/Vm.sol";

/// @notice Closing a game: refunds, grid imports and exports, debts, the operator's income,
/// contribution metrics (numbers: the standard game in {SettlementFixture}).
contract SettlementCloseTest is SettlementFixture {
    uint256 internal constant SUPPLY = OPERATOR_FLOAT + B0_ESCROW + B1_ESCROW;

    // ---------------------------------------------------------------- refusals

    function test_closeGame_revertsWhenNotClock() public {
        uint256 gameId = _fixedStandardGame();
        _warpToDeliveryEnd(gameId);
        bytes32 clockRole = market.CLOCK_ROLE();
        address[3] memory callers = [operator, meter, b0];
        for (uint256 k; k < callers.length; ++k) {
            vm.expectRevert(_unauthorized(callers[k], clockRole));
            vm.prank(callers[k]);
            settler.closeGame(gameId, CHUNK);
        }
    }

    function test_closeGame_revertsBeforeDeliveryEnd() public {
        uint256 gameId = _fixedStandardGame();
        (IMarket.GameParams memory params,,) = market.game(gameId);
        vm.warp(params.deliveryEnd - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementDeliveryNotEnded.selector, gameId, params.deliveryEnd, params.deliveryEnd - 1
            )
        );
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    function test_closeGame_revertsBeforeTradesFixed() public {
        uint256 gameId = _standardGame();
        _warpToDeliveryEnd(gameId);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementTradesNotFixed.selector, gameId, ISettlement.Status.Open)
        );
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    function test_closeGame_revertsWhenClosed() public {
        uint256 gameId = _fixedStandardGame();
        _close(gameId);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementGameClosed.selector, gameId));
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    function test_closeGame_revertsOnZeroChunk() public {
        uint256 gameId = _fixedStandardGame();
        _warpToDeliveryEnd(gameId);
        vm.expectRevert(ISettlement.SettlementZeroChunk.selector);
        vm.prank(clock);
        settler.closeGame(gameId, 0);
    }

    // ---------------------------------------------------------------- outcomes

    /// @dev Full delivery: buyers' unbought 1_000 Wh each are imports paid from their escrow (the
    /// rest of the worst bill is refunded); sellers' unsold capacity is exported, paid by the operator.
    function test_closeGame_fullDelivery() public {
        uint256 gameId = _fixedStandardGame();
        _readAllInFull(gameId);
        _warpToDeliveryEnd(gameId);

        vm.expectEmit(address(settler));
        emit ISettlement.ClosingStarted(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, b0, 1_000, 300_000, 0, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b0, B0_COST, 300_000, 720_000);
        vm.expectEmit(address(market));
        emit IMarket.MeteringRecorded(b0, 0, 8_000);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b1, B1_COST, 300_000, 200_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GameIncomePaid(gameId, operator, 140_000, 600_000, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s0, 8_000, 1_440_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, s0, 0, 0, 2_000, 100_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridPaid(gameId, operator, s0, 100_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridPaid(gameId, operator, s1, 50_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GameClosed(gameId);
        vm.prank(clock);
        assertTrue(settler.closeGame(gameId, CHUNK));

        assertEq(token.balanceOf(b0), 1_000_000);
        assertEq(token.balanceOf(b1), 260_000);
        assertEq(token.balanceOf(s0), 1_440_000 + 100_000);
        assertEq(token.balanceOf(s1), 1_200_000 + 50_000);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 740_000 - 150_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev s1 delivers half: the undelivered half of its trades is refunded to the buyers, net
    /// of the imports that replaced it.
    function test_closeGame_sellerDeliversHalf() public {
        uint256 gameId = _fixedStandardGame();
        _readAll(gameId, 10_000, 2_000, 8_000, 6_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b0, 1_250_000, 450_000, 740_000);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b1, 880_000, 750_000, 230_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GameIncomePaid(gameId, operator, 90_000, 1_200_000, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, s1, 0, 0, 0, 0);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);

        assertEq(token.balanceOf(b0), 1_020_000);
        assertEq(token.balanceOf(b1), 290_000);
        assertEq(token.balanceOf(s0), 1_540_000);
        assertEq(token.balanceOf(s1), 600_000);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 1_290_000 - 100_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev b0 consumes 11_000 Wh, 3_000 beyond its demand and 4_000 beyond its trades
    /// (1_200_000): its escrow left after its trades (2_440_000 - 1_420_000 = 1_020_000) pays the
    /// first part, its wallet the other 180_000 within its allowance.
    function test_closeGame_importBeyondEscrowPulledFromWallet() public {
        uint256 gameId = _fixedStandardGame();
        _readAll(gameId, 10_000, 5_000, 11_000, 6_000);
        vm.prank(b0);
        token.approve(address(settler), 180_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, b0, 4_000, 1_200_000, 0, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b0, B0_COST, 1_020_000, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.GridPaid(gameId, b0, operator, 180_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(b0), 280_000 - 180_000);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 140_000 + 1_320_000 + 180_000 - 150_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev Without allowance the import beyond escrow becomes a recorded debt; close goes on.
    function test_closeGame_unpaidImportRecordedAsDebt() public {
        uint256 gameId = _fixedStandardGame();
        _readAll(gameId, 10_000, 5_000, 11_000, 6_000); // 180_000 beyond escrow, as above
        vm.prank(b0);
        token.approve(address(settler), 80_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.DebtRecorded(gameId, b0, operator, 100_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridPaid(gameId, b0, operator, 80_000);
        vm.prank(clock);
        assertTrue(settler.closeGame(gameId, CHUNK));
        assertEq(token.balanceOf(b0), 200_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev An operator that cannot fund exports owes them; the sellers' debts are recorded.
    function test_closeGame_unfundedExportRecordedAsOperatorDebt() public {
        uint256 gameId = _fixedStandardGame();
        _readAllInFull(gameId);
        vm.prank(operator);
        token.approve(address(settler), 0);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.DebtRecorded(gameId, operator, s0, 100_000);
        vm.expectEmit(address(settler));
        emit ISettlement.DebtRecorded(gameId, operator, s1, 50_000);
        vm.prank(clock);
        assertTrue(settler.closeGame(gameId, CHUNK));
        assertEq(token.balanceOf(s0), 1_440_000);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 740_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev A seller's own consumption is a grid import, netted against its export.
    function test_closeGame_sellerImportNettedAgainstExport() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, s0, 10_000, 500); // export 2_000 (100_000), import 500 (150_000): owes 50_000
        _read(gameId, b0, 0, 8_000);
        _read(gameId, b1, 400, 6_000); // export 400 (20_000) netted with its import paid from escrow
        vm.prank(s0);
        token.approve(address(settler), 50_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, b1, 4_000, 1_200_000, 400, 20_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, s0, 500, 150_000, 2_000, 100_000);
        vm.expectEmit(address(settler));
        emit ISettlement.GridPaid(gameId, s0, operator, 50_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        // b1: s1 never read, so only 2_000 Wh were delivered; its 4_000 Wh import (1_200_000) takes
        // its available escrow (1_860_000 - 400_000 = 1_460_000 -> 260_000 refunded); the 20_000
        // export credit comes from the operator.
        assertEq(token.balanceOf(b1), 60_000 + 260_000 + 20_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev Nobody read: every trade is undelivered and every escrow comes back whole.
    function test_closeGame_missingReadingsRefundEverything() public {
        uint256 gameId = _fixedStandardGame();
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.ReadingMissing(gameId, b0);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, b0, 0, 0, B0_LOCKED);
        vm.expectEmit(address(settler));
        emit ISettlement.GameIncomePaid(gameId, operator, 0, 0, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.ReadingMissing(gameId, s1);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(b0), B0_ESCROW);
        assertEq(token.balanceOf(b1), B1_ESCROW);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT);
        assertEq(market.prosumer(b0).consumedWh, 0);
        _assertClosedAndConserved(gameId);
    }

    function test_closeGame_inChunks() public {
        uint256 gameId = _fixedStandardGame();
        _readAllInFull(gameId);
        _warpToDeliveryEnd(gameId);
        for (uint256 k = 1; k < 5; ++k) {
            vm.prank(clock);
            assertFalse(settler.closeGame(gameId, 1));
            assertEq(_status(gameId), _statusOf(ISettlement.Status.Closing));
            assertEq(settler.gameBook(gameId).cursor, k);
        }
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 740_000 - 100_000); // s1 not yet settled
        vm.prank(clock);
        assertTrue(settler.closeGame(gameId, 1));
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 740_000 - 150_000);
        _assertClosedAndConserved(gameId);
    }

    /// @dev Readings feed the contribution metric: b1 produced, so it plays first next game.
    function test_closeGame_updatesContributionAndNextBuyerOrder() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, s0, 10_000, 0);
        _read(gameId, b0, 0, 8_000);
        _read(gameId, b1, 400, 6_000);
        _close(gameId);
        assertEq(market.prosumer(s0).producedWh, 10_000);
        assertEq(market.prosumer(b1).producedWh, 400);
        assertEq(market.prosumer(b1).consumedWh, 6_000);

        uint256 next = _openGame();
        _offer(next, s0, 1_000, 100_000);
        _demand(next, b0, 100);
        _demand(next, b1, 100);
        _closeRegistration(next);
        assertEq(market.demands(next)[0].buyer, b1);
        assertEq(market.demands(next)[1].buyer, b0);
    }

    /// @dev Rounding dust goes to the operator and shows in the income event: 3 Wh at 200_006
    /// cost the buyer ceil(600.018) = 601, the seller gets floor(600.018) = 600.
    function test_closeGame_dustGoesToOperator() public {
        address seller = _newProsumer(0);
        address buyer = _newProsumer(0);
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        _offer(gameId, seller, 3, 100_003);
        _demand(gameId, buyer, 3);
        _closeRegistration(gameId);
        _bid(gameId, buyer, _list(3));
        settler.fixTrades(gameId, CHUNK);
        _read(gameId, seller, 3, 0);
        _read(gameId, buyer, 0, 3);
        assertEq(token.balanceOf(seller), 0); // paid by the close
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, buyer, 601, 0, 299);
        vm.expectEmit(address(settler));
        emit ISettlement.GameIncomePaid(gameId, operator, 0, 0, 1);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(seller), 600);
        assertEq(token.balanceOf(buyer), 900 - 601);
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 1);
        assertEq(token.balanceOf(address(settler)), 0);
    }

    /// @dev Hardening item 4: a seller at 1 micro-unit/kWh sells a buyer its whole 10 kWh demand
    /// (e = 1 x (1 + 10/10) = 2, cost 10_000 x 2 / 1000 = 20) and delivers nothing. The buyer keeps
    /// its worst bill locked, 10_000 x 300_000 / 1000 = 3_000_000 (its whole escrow, one zone), and
    /// the 10 kWh it took from the grid are paid from it: no debt, even with no allowance left.
    function test_closeGame_sellerShortfallLeavesNoDebt() public {
        address seller = _newProsumer(0);
        address buyer = _newProsumer(0);
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        _offer(gameId, seller, 10_000, 1);
        _demand(gameId, buyer, 10_000);
        _closeRegistration(gameId);
        _bid(gameId, buyer, _list(10_000));
        vm.expectEmit(address(settler));
        emit ISettlement.BuyerTradesFixed(gameId, buyer, 10_000, 20, 3_000_000, 0);
        settler.fixTrades(gameId, CHUNK);
        assertEq(token.balanceOf(buyer), 0);

        _read(gameId, seller, 0, 0);
        _read(gameId, buyer, 0, 10_000);
        vm.prank(buyer);
        token.approve(address(settler), 0);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, buyer, 10_000, 3_000_000, 0, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, buyer, 0, 3_000_000, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.GameIncomePaid(gameId, operator, 0, 3_000_000, 0);
        vm.recordLogs();
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 k; k < logs.length; ++k) {
            assertTrue(logs[k].topics[0] != ISettlement.DebtRecorded.selector, "debt from a seller's shortfall");
        }
        assertEq(token.balanceOf(operator), OPERATOR_FLOAT + 3_000_000);
        assertEq(token.balanceOf(address(settler)), 0);
    }

    /// @dev A buyer's bill is rounded once, so the locked worst case always covers it. Retail
    /// 1_500, no transmission fee: a 2 Wh demand escrows and locks ceil(3_000 / 1000) = 3. Buying
    /// 1 Wh at the capped price 1_500 and importing the other: trades 1_500 milli (spent 2), the
    /// import is ceil((1_500 + 1_500) / 1000) - 2 = 1, not ceil(1.5) = 2 (which would overrun the
    /// escrow by one unit).
    function test_closeGame_billRoundedOnce() public {
        vm.startPrank(operator);
        market.setGridPrices(1_500, 1);
        market.setTransmissionFee(0);
        vm.stopPrank();
        address seller = _newProsumer(0);
        address buyer = _newProsumer(0);
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        _offer(gameId, seller, 1, 1_499);
        _demand(gameId, buyer, 2);
        _closeRegistration(gameId);
        _bid(gameId, buyer, _list(1));
        settler.fixTrades(gameId, CHUNK);
        assertEq(settler.party(gameId, buyer).locked, 3);
        _read(gameId, seller, 1, 0);
        _read(gameId, buyer, 0, 2);
        vm.prank(buyer);
        token.approve(address(settler), 0);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.GridSettled(gameId, buyer, 1, 1, 0, 0);
        vm.expectEmit(address(settler));
        emit ISettlement.EscrowReleased(gameId, buyer, 2, 1, 0);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(seller), 1); // floor(1_500 / 1000)
        assertEq(token.balanceOf(address(settler)), 0);
    }

    function _assertClosedAndConserved(uint256 gameId) internal view {
        assertEq(_status(gameId), _statusOf(ISettlement.Status.Closed));
        assertEq(settler.gameBook(gameId).held, 0);
        assertEq(token.balanceOf(address(settler)), 0);
        assertEq(settler.escrowOf(b0), 0);
        assertEq(settler.escrowOf(b1), 0);
        assertTrue(settler.party(gameId, b0).settled);
        assertTrue(settler.party(gameId, s1).settled);
        uint256 wallets = token.balanceOf(b0) + token.balanceOf(b1) + token.balanceOf(s0) + token.balanceOf(s1)
            + token.balanceOf(operator);
        assertEq(wallets, SUPPLY, "tokens not conserved");
        assertEq(token.totalSupply(), SUPPLY);
    }
}
