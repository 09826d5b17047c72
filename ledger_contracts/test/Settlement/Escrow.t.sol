// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GridToken} from "../../src/GridToken.sol";
import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {Market} from "../../src/Market.sol";
import {Settlement} from "../../src/Settlement.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @notice Wiring settlement into the market, and the escrow every demand locks.
contract SettlementEscrowTest is SettlementFixture {
    // ---------------------------------------------------------------- setSettlement

    function test_setSettlement_grantsRoleAndEmits() public {
        Market fresh = new Market(operator, address(forwarder));
        Settlement other = new Settlement(fresh, token, operator, address(forwarder));
        vm.expectEmit(address(fresh));
        emit IMarket.SettlementSet(address(other));
        vm.prank(operator);
        fresh.setSettlement(address(other));
        assertEq(fresh.settlement(), address(other));
        assertTrue(fresh.hasRole(fresh.SETTLEMENT_ROLE(), address(other)));
    }

    function test_setSettlement_revertsWhenNotAdmin() public {
        Market fresh = new Market(operator, address(forwarder));
        vm.expectRevert(_unauthorized(clock, bytes32(0)));
        vm.prank(clock);
        fresh.setSettlement(address(settler));
    }

    function test_setSettlement_revertsWhenAlreadySet() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketSettlementAlreadySet.selector, address(settler)));
        vm.prank(operator);
        market.setSettlement(stranger);
    }

    function test_setSettlement_revertsOnZeroAddress() public {
        Market fresh = new Market(operator, address(forwarder));
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidSettlement.selector, address(0)));
        vm.prank(operator);
        fresh.setSettlement(address(0));
    }

    function test_setSettlement_revertsAfterFirstGame() public {
        Market fresh = new Market(operator, address(forwarder));
        vm.startPrank(operator);
        fresh.setGridPrices(RETAIL, FEED_IN);
        fresh.grantRole(fresh.CLOCK_ROLE(), clock);
        vm.stopPrank();
        vm.prank(clock);
        fresh.openGame(_params());
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketSettlementAfterGames.selector, 1));
        vm.prank(operator);
        fresh.setSettlement(address(settler));
    }

    function test_constructor_revertsOnZeroAddress() public {
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        new Settlement(market, token, address(0), address(forwarder));
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        new Settlement(IMarket(address(0)), token, operator, address(forwarder));
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        new Settlement(market, GridToken(address(0)), operator, address(forwarder));
    }

    function test_constructor_wires() public view {
        assertEq(address(settler.market()), address(market));
        assertEq(settler.token(), address(token));
        assertEq(settler.operator(), operator);
        assertEq(settler.MAX_READING_WH(), type(uint32).max);
    }

    // ---------------------------------------------------------------- escrow

    function test_publishDemand_locksWorstCase() public {
        _lineHops();
        address buyer = _newProsumer(0);
        uint256 gameId = _openGame();
        _fund(gameId, buyer, 8_000);

        vm.expectEmit(address(settler));
        emit ISettlement.EscrowLocked(gameId, buyer, 8_000, 2, B0_ESCROW);
        vm.prank(buyer);
        market.publishDemand(gameId, 8_000);

        assertEq(token.balanceOf(buyer), 0);
        assertEq(token.balanceOf(address(settler)), B0_ESCROW);
        assertEq(settler.escrowOf(buyer), B0_ESCROW);
        assertEq(settler.gameBook(gameId).held, B0_ESCROW);
        ISettlement.Party memory p = settler.party(gameId, buyer);
        assertEq(p.escrowed, B0_ESCROW);
        assertEq(p.locked, B0_ESCROW);
        assertEq(p.maxHop, 2);
        assertEq(_status(gameId), _statusOf(ISettlement.Status.Open));
    }

    function test_escrowFor_usesLargestHopFromBuyersZone() public {
        _lineHops();
        uint256 gameId = _openGame();
        address middle = _newProsumer(1);
        address edge = _newProsumer(2);
        (uint256 amount, uint256 maxHop) = settler.escrowFor(gameId, middle, 6_000);
        assertEq(maxHop, 1);
        assertEq(amount, B1_ESCROW);
        (amount, maxHop) = settler.escrowFor(gameId, edge, 1_000);
        assertEq(maxHop, 2);
        assertEq(amount, 340_000);
    }

    function test_escrowFor_roundsUp() public {
        vm.prank(operator);
        market.setGridPrices(300_001, FEED_IN);
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        // 1 Wh at 300_001 + 0 hops = 300.001 base units -> 301
        (uint256 amount, uint256 maxHop) = settler.escrowFor(gameId, buyer, 1);
        assertEq(maxHop, 0);
        assertEq(amount, 301);
    }

    function test_publishDemand_revertsOnInsufficientBalance() public {
        address buyer = _newProsumer(0);
        uint256 gameId = _openGame();
        uint256 amount = _fund(gameId, buyer, 1_000);
        vm.prank(buyer);
        assertTrue(token.transfer(stranger, 1));
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInsufficientBalance.selector, buyer, amount - 1, amount)
        );
        vm.prank(buyer);
        market.publishDemand(gameId, 1_000);
        _assertNoDemand(gameId, buyer);
    }

    function test_publishDemand_revertsOnInsufficientAllowance() public {
        address buyer = _newProsumer(0);
        uint256 gameId = _openGame();
        uint256 amount = _fund(gameId, buyer, 1_000);
        vm.prank(buyer);
        token.approve(address(settler), amount - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementInsufficientAllowance.selector, buyer, amount - 1, amount)
        );
        vm.prank(buyer);
        market.publishDemand(gameId, 1_000);
        _assertNoDemand(gameId, buyer);
    }

    function test_publishOffer_locksNothing() public {
        address seller = _newProsumer(0);
        uint256 gameId = _openGame();
        _offer(gameId, seller, 1_000, 100_000);
        assertEq(token.balanceOf(address(settler)), 0);
        assertEq(settler.party(gameId, seller).escrowed, 0);
    }

    function test_escrowDemand_revertsWhenNotMarket() public {
        uint256 gameId = _openGame();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementOnlyMarket.selector, operator));
        vm.prank(operator);
        settler.escrowDemand(gameId, operator, 1);
    }

    function test_escrowOf_sumsOverGames() public {
        address buyer = _newProsumer(0);
        uint256 first = _openGame();
        uint256 second = _openGame();
        _demand(first, buyer, 1_000);
        _demand(second, buyer, 2_000);
        assertEq(settler.escrowOf(buyer), 300_000 * 3);
        assertEq(token.balanceOf(address(settler)), 300_000 * 3);
    }

    function test_fuzz_escrowFor_coversWorstUnitPrice(uint256 wh, uint256 retail, uint256 fee) public {
        wh = bound(wh, 1, type(uint32).max);
        retail = bound(retail, 1, type(uint64).max);
        fee = bound(fee, 0, type(uint64).max);
        vm.startPrank(operator);
        market.setGridPrices(retail, 0);
        market.setTransmissionFee(fee);
        vm.stopPrank();
        _lineHops();
        uint256 gameId = _openGame();
        address buyer = _newProsumer(0);
        (uint256 amount, uint256 maxHop) = settler.escrowFor(gameId, buyer, wh);
        assertEq(maxHop, 2);
        uint256 worstMilli = wh * (retail + 2 * fee);
        assertGe(amount * 1000, worstMilli, "escrow below worst case");
        assertLt(amount * 1000, worstMilli + 1000, "escrow rounds up by less than one unit");
    }

    function _assertNoDemand(uint256 gameId, address buyer) internal view {
        (IMarket.Role role,) = market.participant(gameId, buyer);
        assertEq(uint256(role), uint256(IMarket.Role.None));
        assertEq(market.demands(gameId).length, 0);
        assertEq(settler.escrowOf(buyer), 0);
        assertEq(token.balanceOf(address(settler)), 0);
    }
}
