// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice Gas of the calls the benchmark measures, each as in its own transaction (storage made
/// cold before every call). Execution gas only: a transaction adds 21,000 and its calldata.
/// Run with `-vv` to see the numbers; the assertions are regression budgets.
contract MarketGasTest is MarketFixture {
    // ---------------------------------------------------------------- measuring

    function _measuredBid(uint256 gameId, address buyer, uint256[] memory amounts) internal returns (uint256 used) {
        IMarket.GameStatus memory status = market.gameState(gameId).status;
        vm.cool(address(market));
        vm.prank(buyer);
        used = gasleft();
        market.bid(gameId, status.round, status.turn, amounts);
        used -= gasleft();
    }

    function _measuredClose(uint256 gameId) internal returns (uint256 used) {
        (IMarket.GameParams memory params,,) = market.game(gameId);
        if (block.timestamp < params.registrationEnd) vm.warp(params.registrationEnd);
        vm.cool(address(market));
        vm.prank(clock);
        used = gasleft();
        market.closeRegistration(gameId);
        used -= gasleft();
    }

    // ---------------------------------------------------------------- single bids

    function _benchBid(uint256 sellerCount) internal returns (uint256 first, uint256 later) {
        (uint256 gameId,, address[] memory buyers) = _startGame(sellerCount, 10_000, 2, 20_000);
        first = _measuredBid(gameId, buyers[0], _proportionalBid(gameId));
        _measuredBid(gameId, buyers[1], _proportionalBid(gameId));
        later = _measuredBid(gameId, buyers[0], _proportionalBid(gameId));
        emit log_named_uint(string.concat("bid, first round, sellers ", _toString(sellerCount)), first);
        emit log_named_uint(string.concat("bid, later round, sellers ", _toString(sellerCount)), later);
    }

    function test_gas_bid_4Sellers() public {
        (uint256 first, uint256 later) = _benchBid(4);
        assertLt(first, 90_000);
        assertLt(later, 40_000);
    }

    function test_gas_bid_20Sellers() public {
        (uint256 first, uint256 later) = _benchBid(20);
        assertLt(first, 210_000);
        assertLt(later, 60_000);
    }

    function test_gas_bid_50Sellers() public {
        (uint256 first, uint256 later) = _benchBid(50);
        assertLt(first, 450_000);
        assertLt(later, 100_000);
    }

    // ---------------------------------------------------------------- whole games

    /// @dev Registration, closing and bidding of `buyerCount` x `sellerCount`, every buyer
    /// bidding its demand split by free room, until the game ends.
    function _benchGame(uint256 buyerCount, uint256 sellerCount, uint256 capacity, uint256 demand)
        internal
        returns (uint256 total)
    {
        IMarket.GameParams memory params = _params();
        params.epsilon = 10;
        uint256 gameId = _openGame(params);
        uint256 registration;
        for (uint256 j; j < sellerCount; ++j) {
            address seller = _newProsumer(0);
            vm.cool(address(market));
            vm.prank(seller);
            uint256 before = gasleft();
            market.publishOffer(gameId, capacity, 100_000 + 1_000 * j);
            registration += before - gasleft();
        }
        for (uint256 i; i < buyerCount; ++i) {
            address buyer = _newProsumer(0);
            vm.cool(address(market));
            vm.prank(buyer);
            uint256 before = gasleft();
            market.publishDemand(gameId, demand);
            registration += before - gasleft();
        }
        uint256 closing = _measuredClose(gameId);
        uint256 bidding;
        uint256 turns;
        while (market.phase(gameId) == IMarket.Phase.Bidding) {
            bidding += _measuredBid(gameId, _currentBuyer(gameId), _proportionalBid(gameId));
            ++turns;
        }
        (,, IMarket.GameStatus memory status) = market.game(gameId);
        string memory size = string.concat(_toString(buyerCount), "x", _toString(sellerCount));
        emit log_named_uint(string.concat("game ", size, ": registration"), registration);
        emit log_named_uint(string.concat("game ", size, ": closeRegistration"), closing);
        emit log_named_uint(string.concat("game ", size, ": bidding"), bidding);
        emit log_named_uint(string.concat("game ", size, ": turns"), turns);
        emit log_named_uint(string.concat("game ", size, ": rounds"), status.round);
        emit log_named_uint(string.concat("game ", size, ": gas per turn"), bidding / turns);
        total = registration + closing + bidding;
        emit log_named_uint(string.concat("game ", size, ": total"), total);
    }

    function test_gas_game_7x4() public {
        uint256 total = _benchGame(7, 4, 5_000, 2_500);
        assertLt(total, 1_600_000);
    }

    function test_gas_game_50x20() public {
        uint256 total = _benchGame(50, 20, 5_000, 1_500);
        assertLt(total, 16_000_000);
    }

    // ---------------------------------------------------------------- closing registration

    /// @dev Closing with `buyerCount` buyers whose random histories make the sort do real work.
    function _benchClose(uint256 buyerCount) internal returns (uint256 used) {
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);
        for (uint256 i; i < buyerCount; ++i) {
            address buyer = _newProsumer(0);
            uint256 r = uint256(keccak256(abi.encode(i)));
            vm.prank(settlement);
            market.recordMetering(buyer, r % 1e9, (r >> 64) % 1e9);
            _demand(gameId, buyer, 100);
        }
        used = _measuredClose(gameId);
        emit log_named_uint(string.concat("closeRegistration, buyers ", _toString(buyerCount)), used);
    }

    function test_gas_closeRegistration_200Buyers() public {
        assertLt(_benchClose(200), BLOCK_GAS_LIMIT / 10);
    }

    function test_gas_closeRegistration_maxBuyers() public {
        assertLt(_benchClose(market.MAX_BUYERS()), BLOCK_GAS_LIMIT * 2 / 3);
    }
}
