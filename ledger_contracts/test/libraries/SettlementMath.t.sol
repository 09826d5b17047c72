// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SettlementMath} from "../../src/libraries/SettlementMath.sol";
import {Test} from "../utils/Test.sol";

contract SettlementMathTest is Test {
    function test_ceilDiv() public pure {
        assertEq(SettlementMath.ceilDiv(0, 1000), 0);
        assertEq(SettlementMath.ceilDiv(1, 1000), 1);
        assertEq(SettlementMath.ceilDiv(1000, 1000), 1);
        assertEq(SettlementMath.ceilDiv(1001, 1000), 2);
        assertEq(SettlementMath.ceilDiv(type(uint256).max, 1), type(uint256).max);
    }

    function test_chargeRoundsUpCreditRoundsDown() public pure {
        assertEq(SettlementMath.charge(3, 200_006), 601); // 600.018
        assertEq(SettlementMath.credit(3, 200_006), 600);
        assertEq(SettlementMath.charge(1_000, 300_000), 300_000);
        assertEq(SettlementMath.credit(1_000, 300_000), 300_000);
    }

    function test_escrow() public pure {
        assertEq(SettlementMath.escrow(8_000, 300_000, 20_000, 2), 2_720_000);
        assertEq(SettlementMath.escrow(1, 300_001, 0, 5), 301);
    }

    function test_energyPrice_congestionAndCap() public pure {
        assertEq(SettlementMath.energyPrice(100_000, 10_000, 0, 300_000), 100_000);
        assertEq(SettlementMath.energyPrice(100_000, 10_000, 8_000, 300_000), 180_000);
        assertEq(SettlementMath.energyPrice(200_000, 5_000, 4_000, 300_000), 300_000); // 360_000 capped
        assertEq(SettlementMath.energyPrice(100_003, 3, 1, 300_000), 133_337); // 133_337.33 rounded down
    }

    function test_covered_andDelivered() public pure {
        assertEq(SettlementMath.covered(1_000, 4_000, 4_000), 1_000);
        assertEq(SettlementMath.covered(1_000, 4_000, 9_000), 1_000);
        assertEq(SettlementMath.covered(1_000, 4_000, 2_000), 500);
        assertEq(SettlementMath.covered(3, 7, 1), 0); // 3/7 rounded down
        assertEq(SettlementMath.delivered(3_000, 4_000, 1_000, 5_000, 1_000), 600);
        assertEq(SettlementMath.delivered(3_000, 4_000, 4_000, 5_000, 5_000), 3_000);
    }

    /// @dev A charge and a credit of the same energy differ by at most one base unit, the charge
    /// never below, the credit never above the exact amount.
    function test_fuzz_chargeAndCreditBracketExactAmount(uint256 wh, uint256 price) public pure {
        wh = bound(wh, 0, type(uint32).max);
        price = bound(price, 0, type(uint80).max);
        uint256 charge = SettlementMath.charge(wh, price);
        uint256 credit = SettlementMath.credit(wh, price);
        assertGe(charge * 1000, wh * price);
        assertLe(credit * 1000, wh * price);
        assertLe(charge - credit, 1);
    }

    /// @dev Pro rata shares of a side's trades never add up to more than it metered.
    function test_fuzz_coveredSharesWithinMetered(uint256 a, uint256 b, uint256 c, uint256 metered) public pure {
        a = bound(a, 0, type(uint32).max / 4);
        b = bound(b, 0, type(uint32).max / 4);
        c = bound(c, 0, type(uint32).max / 4);
        uint256 traded = a + b + c;
        vm.assume(traded > 0);
        metered = bound(metered, 0, type(uint32).max);
        uint256 sum = SettlementMath.covered(a, traded, metered) + SettlementMath.covered(b, traded, metered)
            + SettlementMath.covered(c, traded, metered);
        assertLe(sum, metered < traded ? metered : traded);
        if (metered >= traded) assertEq(sum, traded);
    }
}
