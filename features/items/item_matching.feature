Feature: Matching service items by name, rate and SKU
  Review your matched and unmatched service items. Unmatched service items will not sync. To fix
  any unmatched service items, you will need to ensure that service items in Canopy match the
  name, rate, and SKU of a service item in QBO.

  @R15
  Scenario: The review matches items whose name, rate and SKU agree, and says what differs for the others (interpretations D-9, D-10)
    Given the Admin of the "items_mismatch" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the Admin clicks Start on the service items step
    Then the service items review is shown
    And the review matches the service items the ground truth matches, and no other
    And the review matches the items priced 100 in QBO and "100.00" in Canopy
    And the review says the name differs for each item planted with another name
    And the review says the rate differs for each item planted with another rate
    And the review says the SKU differs for each item planted with another SKU
    And the items without a counterpart on the other side are unmatched

  @R15
  Scenario: An item that fully matches two items on the other side is ambiguous and links nothing (interpretation D-11)
    Given the Admin of the "items_mismatch" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    And a second Canopy service item with the name, rate and SKU of a matched item was added
    When the Admin clicks Start on the service items step
    Then the service items review is shown
    And the two Canopy items and their QBO item are unmatched as ambiguous
