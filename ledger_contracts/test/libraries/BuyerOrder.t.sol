// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BuyerOrder} from "../../src/libraries/BuyerOrder.sol";
import {Test} from "../utils/Test.sol";

contract BuyerOrderTest is Test {
    function test_key_normalisesZeroConsumption() public pure {
        // never metered: metric 0, tied with a prosumer that only consumed (admission decides)
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(0, 0, 1, 0), BuyerOrder.key(0, 5, 2, 1)));
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(0, 5, 1, 0), BuyerOrder.key(0, 0, 2, 1)));
        // and behind any positive metric
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(1, 500, 2, 1), BuyerOrder.key(0, 0, 1, 0)));
        assertFalse(BuyerOrder.precedes(BuyerOrder.key(0, 0, 1, 0), BuyerOrder.key(1, 500, 2, 1)));
        // produced but never consumed: above any finite metric
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(1, 0, 9, 0), BuyerOrder.key(type(uint96).max, 1, 1, 1)));
        // two infinite metrics tie and fall back to admission order
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(5, 0, 1, 0), BuyerOrder.key(500, 0, 2, 1)));
        assertFalse(BuyerOrder.precedes(BuyerOrder.key(500, 0, 2, 1), BuyerOrder.key(5, 0, 1, 0)));
    }

    function test_precedes_comparesRatiosByCrossMultiplication() public pure {
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(3, 2, 2, 0), BuyerOrder.key(4, 3, 1, 1))); // 1.5 > 1.33
        assertTrue(BuyerOrder.precedes(BuyerOrder.key(2, 4, 1, 0), BuyerOrder.key(1, 2, 2, 1))); // tie: admission
        assertFalse(BuyerOrder.precedes(BuyerOrder.key(1, 2, 2, 1), BuyerOrder.key(2, 4, 1, 0)));
    }

    function test_registrationIndex_roundTrips() public pure {
        assertEq(BuyerOrder.registrationIndex(BuyerOrder.key(7, 8, 9, 1023)), 1023);
    }

    /// @dev Heapsort agrees with a plain insertion sort on random keys with many ties.
    function test_fuzz_sort_matchesInsertionSort(uint256 seed, uint16 length) public pure {
        uint256 n = bound(length, 0, 80);
        uint256[] memory keys = new uint256[](n);
        uint256[] memory expected = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // distinct admission indices, as distinct prosumers have
            keys[i] = BuyerOrder.key(r % 5, (r >> 8) % 5, (r >> 16) % 1_000_000 * 1_000 + i, i);
            expected[i] = keys[i];
        }
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && BuyerOrder.precedes(expected[j], expected[j - 1]); --j) {
                (expected[j], expected[j - 1]) = (expected[j - 1], expected[j]);
            }
        }
        BuyerOrder.sort(keys);
        assertEq(keys, expected);
    }
}
