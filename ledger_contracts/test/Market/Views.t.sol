// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice The batch views a client reads its turn from.
contract MarketViewsTest is MarketFixture {
    function _lineOfThreeZones() internal {
        uint16[] memory d = new uint16[](9);
        (d[1], d[2], d[3], d[5], d[6], d[7]) = (1, 2, 1, 1, 2, 1);
        vm.prank(operator);
        market.setHopDistances(3, d);
    }

    function test_views_unknownGameIsEmpty() public view {
        assertEq(uint256(market.phase(42)), uint256(IMarket.Phase.None));
        assertEq(market.offers(42).length, 0);
        assertEq(market.demands(42).length, 0);
        assertEq(market.allocation(42).length, 0);
        IMarket.GameState memory state = market.gameState(42);
        assertEq(state.loads.length, 0);
        assertEq(state.currentBuyer, address(0));
    }

    function test_gameState_duringRegistration() public {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        IMarket.GameState memory state = market.gameState(gameId);
        assertEq(uint256(state.status.phase), uint256(IMarket.Phase.Registration));
        assertEq(state.loads, _list(0));
        assertEq(state.currentBuyer, address(0));
        assertEq(state.currentBid.length, 0);
    }

    function test_gameState_readsTurnInOneCall() public {
        (uint256 gameId,, address[] memory buyers) = _startGame(3, 1_000, 2, 900);
        _bid(gameId, buyers[0], _list(100, 200, 300));
        _bid(gameId, buyers[1], _list(400, 0, 500));
        uint256 start = block.timestamp;
        vm.warp(start + 7);
        IMarket.GameState memory state = market.gameState(gameId);
        assertEq(state.status.round, 2);
        assertEq(state.status.turn, 0);
        assertEq(state.status.turnDeadline, start + TURN); // a timestamp
        assertEq(state.status.roundMaxChange, 0);
        assertEq(state.status.turnSeconds, TURN); // seconds, the game's GameParams.turnSeconds
        assertEq(state.currentBuyer, buyers[0]);
        assertEq(state.currentBid, _list(100, 200, 300));
        assertEq(state.loads, _list(500, 200, 800));
    }

    function test_demands_followTurnOrderOnceClosed() public {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        address low = _newProsumer(0);
        address high = _newProsumer(0);
        vm.prank(settlement);
        market.recordMetering(high, 10, 1);
        _demand(gameId, low, 100);
        _demand(gameId, high, 200);
        assertEq(market.demands(gameId)[0].buyer, low); // registration order
        _closeRegistration(gameId);
        IMarket.Demand[] memory list = market.demands(gameId);
        assertEq(list[0].buyer, high);
        assertEq(list[0].wh, 200);
        assertEq(list[1].buyer, low);
        (, uint256 index) = market.participant(gameId, high);
        assertEq(index, 1); // registration index
    }

    function test_allocation_rowsInTurnOrder() public {
        (uint256 gameId,, address[] memory buyers) = _startGame(2, 1_000, 3, 500);
        _bid(gameId, buyers[0], _list(100, 0));
        _bid(gameId, buyers[1], _list(0, 200));
        uint256[][] memory rows = market.allocation(gameId);
        assertEq(rows.length, 3);
        assertEq(rows[0], _list(100, 0));
        assertEq(rows[1], _list(0, 200));
        assertEq(rows[2], _list(0, 0));
    }

    function test_bidOf_revertsForNonBuyer() public {
        (uint256 gameId, address[] memory sellers,) = _startGame(1, 1_000, 1, 500);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBuyer.selector, gameId, sellers[0]));
        market.bidOf(gameId, sellers[0]);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotBuyer.selector, gameId, stranger));
        market.bidOf(gameId, stranger);
    }

    function test_participant_noneForOutsider() public {
        uint256 gameId = _openGame();
        (IMarket.Role role, uint256 index) = market.participant(gameId, stranger);
        assertEq(uint256(role), uint256(IMarket.Role.None));
        assertEq(index, 0);
    }

    function test_hopsToSellers_followsZones() public {
        _lineOfThreeZones();
        uint256 gameId = _openGame();
        address near = _newProsumer(1);
        address far = _newProsumer(2);
        address buyer = _newProsumer(0);
        _offer(gameId, near, 1_000, 100_000);
        _offer(gameId, far, 1_000, 100_000);
        _demand(gameId, buyer, 100);
        assertEq(market.hopsToSellers(gameId, buyer), _list(1, 2));
        assertEq(market.hopsToSellers(gameId, far), _list(1, 0));
    }

    function test_hopsToSellers_revertsOnUnknownProsumer() public {
        uint256 gameId = _openGame();
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownProsumer.selector, stranger));
        market.hopsToSellers(gameId, stranger);
    }
}
