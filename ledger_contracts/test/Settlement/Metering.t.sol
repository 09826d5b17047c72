// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ISettlement} from "../../src/ISettlement.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {Vm} from "../utils/Vm.sol";

/// @notice Meter readings and the payment of delivered trades (numbers: the standard game in
/// {SettlementFixture}).
contract SettlementMeteringTest is SettlementFixture {
    bytes32 internal meterRole;

    function setUp() public override {
        super.setUp();
        meterRole = market.METER_ROLE();
    }

    // ---------------------------------------------------------------- refusals

    function test_postReading_revertsWhenNotMeter() public {
        uint256 gameId = _fixedStandardGame();
        address[3] memory callers = [clock, operator, b0];
        for (uint256 k; k < callers.length; ++k) {
            vm.expectRevert(_unauthorized(callers[k], meterRole));
            vm.prank(callers[k]);
            settler.postReading(gameId, b0, 0, 8_000);
        }
    }

    function test_postReading_revertsBeforeTradesFixed() public {
        uint256 gameId = _standardGame();
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementTradesNotFixed.selector, gameId, ISettlement.Status.Open)
        );
        _read(gameId, b0, 0, 8_000);
        settler.fixTrades(gameId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlement.SettlementTradesNotFixed.selector, gameId, ISettlement.Status.FixingTrades
            )
        );
        _read(gameId, b0, 0, 8_000);
    }

    function test_postReading_revertsForNonParticipant() public {
        uint256 gameId = _fixedStandardGame();
        address outsider = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotParticipant.selector, gameId, outsider));
        _read(gameId, outsider, 1, 1);
    }

    function test_postReading_revertsOnSecondReading() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, b0, 0, 8_000);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementAlreadyRead.selector, gameId, b0));
        _read(gameId, b0, 0, 8_000);
        assertEq(settler.gameBook(gameId).readings, 1); // the refused one is not counted
    }

    function test_postReading_revertsOnTooLargeReading() public {
        uint256 gameId = _fixedStandardGame();
        uint256 max = type(uint32).max;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReadingTooLarge.selector, max + 1, max));
        _read(gameId, s0, max + 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementReadingTooLarge.selector, max + 1, max));
        _read(gameId, s0, 0, max + 1);
        _read(gameId, s0, max, max); // the largest reading is accepted
    }

    function test_postReading_revertsWhileClosingAndAfterClose() public {
        uint256 gameId = _fixedStandardGame();
        _warpToDeliveryEnd(gameId);
        vm.prank(clock);
        settler.closeGame(gameId, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementGameClosing.selector, gameId, ISettlement.Status.Closing)
        );
        _read(gameId, b1, 0, 6_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementGameClosing.selector, gameId, ISettlement.Status.Closed)
        );
        _read(gameId, b1, 0, 6_000);
    }

    // ---------------------------------------------------------------- payments (by the close)

    /// @dev A reading costs the same whatever the trades: it records, the close pays. Both sides
    /// read in full (sellers exactly their sales, so no export blurs their balances).
    function test_postReading_paysWhenSecondSideReads() public {
        uint256 gameId = _fixedStandardGame();
        vm.expectEmit(address(settler));
        emit ISettlement.ReadingPosted(gameId, b0, 0, 8_000);
        vm.recordLogs();
        _read(gameId, b0, 0, 8_000);
        _read(gameId, s0, 8_000, 0);
        _read(gameId, b1, 0, 6_000);
        _read(gameId, s1, 4_000, 0);
        assertEq(vm.getRecordedLogs().length, 4); // one ReadingPosted each, nothing paid yet
        assertEq(token.balanceOf(address(settler)), B0_LOCKED + B1_LOCKED);
        assertEq(token.balanceOf(s0), 0);
        assertEq(settler.gameBook(gameId).readings, 4); // every participant of the standard game

        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b0, s0, 6_000, 1_080_000, 1_080_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b0, s1, 1_000, 300_000, 340_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s0, 2_000, 360_000, 400_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s1, 3_000, 900_000, 960_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s0, 8_000, 1_440_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s1, 4_000, 1_200_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(s0), 1_440_000);
        assertEq(token.balanceOf(s1), 1_200_000);

        ISettlement.GameBook memory book = settler.gameBook(gameId);
        assertEq(book.transmissionMilli, 140_000_000);
        assertEq(book.sellersDue, 2_640_000);
        assertEq(book.held, 0);
        ISettlement.Party memory p = settler.party(gameId, b0);
        assertEq(p.deliveredWh, 7_000);
        assertEq(p.chargedMilli, B0_COST * 1000);
        assertEq(settler.party(gameId, s0).deliveredWh, 8_000);
    }

    /// @dev s1 produced 2_000 of the 4_000 it sold: each of its trades is half delivered.
    function test_postReading_sharesSellerShortfallProRata() public {
        uint256 gameId = _fixedStandardGame();
        _readAll(gameId, 8_000, 2_000, 8_000, 6_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b0, s1, 500, 150_000, 170_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s1, 1_500, 450_000, 480_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s1, 2_000, 600_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(token.balanceOf(s1), 600_000);
        assertEq(settler.party(gameId, s1).deliveredWh, 2_000);
    }

    /// @dev b1 consumed 2_500 of the 5_000 it bought: it takes half of each trade.
    function test_postReading_buyerConsumingLessTakesProRataLess() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, s0, 10_000, 0);
        _read(gameId, s1, 5_000, 0);
        _read(gameId, b1, 0, 2_500);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s0, 1_000, 180_000, 200_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s1, 1_500, 450_000, 480_000_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s0, 1_000, 180_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPaid(gameId, s1, 1_500, 450_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
        assertEq(settler.party(gameId, b1).deliveredWh, 2_500);
    }

    /// @dev Both sides short: the smaller cover wins.
    function test_postReading_paysTheSmallerOfBothCovers() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, s1, 1_000, 0); // covers a quarter: b0-s1 250, b1-s1 750
        _read(gameId, b1, 0, 1_000);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s1, 600, 180_000, 192_000_000); // b1 covers 3_000 x 1_000 / 5_000
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    function test_postReading_nothingDeliveredPaysNothing() public {
        uint256 gameId = _fixedStandardGame();
        _read(gameId, b0, 0, 8_000);
        vm.recordLogs();
        _read(gameId, s0, 0, 0);
        assertEq(vm.getRecordedLogs().length, 1); // ReadingPosted only
        _close(gameId);
        assertEq(token.balanceOf(s0), 0);
        assertEq(settler.party(gameId, s0).deliveredWh, 0);
    }

    function test_postReading_sellerWithoutSalesPaysNothing() public {
        uint256 gameId = _registerStandardGame();
        _bid(gameId, b0, _list(0, 1_000));
        _bid(gameId, b1, _list(0, 3_000));
        settler.fixTrades(gameId, CHUNK);
        _read(gameId, b0, 0, 8_000);
        _read(gameId, s0, 10_000, 0);
        _close(gameId);
        assertEq(token.balanceOf(s0), 500_000); // its whole production exported at 50_000
        assertEq(settler.party(gameId, s0).tradedWh, 0);
        assertEq(settler.party(gameId, s0).deliveredWh, 0);
    }

    /// @dev Trades are paid with the hop matrix of the game, not today's.
    function test_postReading_usesSnapshottedHops() public {
        uint256 gameId = _fixedStandardGame();
        uint16[] memory one = new uint16[](9);
        vm.prank(operator);
        market.setHopDistances(3, one); // every hop 0 now
        _read(gameId, b1, 0, 6_000);
        _read(gameId, s0, 10_000, 0);
        _warpToDeliveryEnd(gameId);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeDelivered(gameId, b1, s0, 2_000, 360_000, 400_000_000);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    /// @dev Whatever the readings and their order, no side is paid for more than it metered or
    /// traded, sellers get at most their delivered energy at their price, tokens are conserved,
    /// and a buyer that consumed at most its demand owes nothing after close.
    function test_fuzz_postReading_paysOnlyDeliveredEnergy(
        uint256 p0,
        uint256 p1,
        uint256 c0,
        uint256 c1,
        uint256 order
    ) public {
        uint256 gameId = _fixedStandardGame();
        address[4] memory who = [s0, s1, b0, b1];
        uint256[4] memory produced = [bound(p0, 0, 12_000), bound(p1, 0, 6_000), uint256(0), uint256(0)];
        uint256[4] memory consumed = [uint256(0), uint256(0), bound(c0, 0, 10_000), bound(c1, 0, 8_000)];
        for (uint256 k; k < 4; ++k) {
            uint256 n = (k + order % 4) % 4;
            _read(gameId, who[n], produced[n], consumed[n]);
        }
        vm.recordLogs();
        _close(gameId);
        for (uint256 k; k < 2; ++k) {
            ISettlement.Party memory s = settler.party(gameId, who[k]);
            assertLe(s.deliveredWh, produced[k], "seller paid beyond production");
            assertLe(s.deliveredWh, s.tradedWh, "seller paid beyond sales");
            ISettlement.Party memory b = settler.party(gameId, who[k + 2]);
            assertLe(b.deliveredWh, consumed[k + 2], "buyer charged beyond consumption");
            assertLe((b.chargedMilli + 999) / 1000, b.locked, "charge beyond escrow");
        }
        assertEq(settler.gameBook(gameId).sellersDue, _sellerPay(gameId, s0) + _sellerPay(gameId, s1), "sellers paid");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] != ISettlement.DebtRecorded.selector) continue;
            address debtor = address(uint160(uint256(logs[k].topics[2])));
            if (debtor == b0) assertGt(consumed[2], 8_000, "debt within demand");
            if (debtor == b1) assertGt(consumed[3], 6_000, "debt within demand");
        }
        uint256 wallets = token.balanceOf(s0) + token.balanceOf(s1) + token.balanceOf(b0) + token.balanceOf(b1)
            + token.balanceOf(operator);
        assertEq(token.balanceOf(address(settler)), 0);
        assertEq(wallets, OPERATOR_FLOAT + B0_ESCROW + B1_ESCROW, "conservation");
    }

    /// @dev What a seller got for its delivered energy: floor(delivered x price / 1000).
    function _sellerPay(uint256 gameId, address seller) internal view returns (uint256) {
        ISettlement.Party memory p = settler.party(gameId, seller);
        return uint256(p.deliveredWh) * p.energyPrice / 1000;
    }
}
